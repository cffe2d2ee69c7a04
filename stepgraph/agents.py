"""Agents: container build contexts kept in ``agents/<agent_id>/`` (SPEC §6).

Each folder holds a ``Dockerfile`` (linux/arm64) and an app served with
``bedrock_agentcore.BedrockAgentCoreApp``. An optional ``agent.json`` carries settings::

    {
      "description": "Answers customer-support chats from the order book",
      "kind": "python",                      # or "nova_act"
      "entrypoint": "main.py",               # the file that serves the app (default main.py)
      "environment": {"LOG_LEVEL": "INFO"},  # plain settings only, never secrets
      "lifecycle": {"idle_timeout_seconds": 900, "max_lifetime_seconds": 28800},
      "model_ids": ["amazon.nova-lite-v1:0"],  # bedrock:InvokeModel on these foundation models
      "nova_act": {"workflow_definition_name": "getting-started-workflow",
                   "api_key_secret_name": null}
    }
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .exceptions import ProjectError

__all__ = ["AgentSpec", "NovaActSettings", "discover_agents", "AGENT_ID_PATTERN"]

#: AgentCore runtime names match ``[a-zA-Z][a-zA-Z0-9_]{0,47}`` (CreateAgentRuntime API
#: reference); the agent id becomes the runtime name, so it obeys the same rule.
AGENT_ID_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}\Z")

_KNOWN_KEYS = {"description", "kind", "entrypoint", "environment", "lifecycle", "model_ids", "nova_act"}


@dataclass(frozen=True)
class NovaActSettings:
    """Nova Act settings of an agent.

    Attributes
    ----------
    workflow_definition_name:
        Name of the ``AWS::NovaAct::WorkflowDefinition`` the agent's ``@workflow`` uses.
    api_key_secret_name:
        Secrets Manager secret holding a Nova Act API key, or ``None`` to use IAM (the default).
    """

    workflow_definition_name: str
    api_key_secret_name: str | None = None


@dataclass(frozen=True)
class AgentSpec:
    """One agent folder, read from disk.

    Attributes
    ----------
    agent_id:
        The folder name; also the AgentCore runtime name.
    path:
        Absolute path of the folder (the container build context).
    kind:
        ``"python"`` (any agent) or ``"nova_act"``.
    entrypoint:
        File, relative to ``path``, that serves the ``BedrockAgentCoreApp`` (default ``main.py``).
    environment:
        Plain environment variables for the runtime.
    idle_timeout_seconds, max_lifetime_seconds:
        AgentCore lifecycle settings, in seconds (defaults 900 and 28 800, AgentCore's own).
    model_ids:
        Foundation model ids the runtime may call with ``bedrock:InvokeModel``.
    nova_act:
        Nova Act settings, present when ``kind == "nova_act"``.
    """

    agent_id: str
    path: Path
    kind: str = "python"
    description: str = ""
    entrypoint: str = "main.py"
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    idle_timeout_seconds: int = 900
    max_lifetime_seconds: int = 28_800
    model_ids: tuple[str, ...] = ()
    nova_act: NovaActSettings | None = None


def _read_spec(folder: Path) -> AgentSpec:
    agent_id = folder.name
    if not AGENT_ID_PATTERN.match(agent_id):
        raise ProjectError(
            f"agents/{agent_id}: an agent id must match [a-zA-Z][a-zA-Z0-9_]{{0,47}} "
            "(it becomes the AgentCore runtime name)"
        )
    if not (folder / "Dockerfile").is_file():
        raise ProjectError(f"agents/{agent_id}: no Dockerfile; an agent folder is a container build context")
    settings: dict[str, Any] = {}
    config = folder / "agent.json"
    if config.is_file():
        try:
            settings = json.loads(config.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ProjectError(f"agents/{agent_id}/agent.json: not valid JSON ({exc})") from exc
        if not isinstance(settings, dict):
            raise ProjectError(f"agents/{agent_id}/agent.json: must hold a JSON object")
        unknown = sorted(set(settings) - _KNOWN_KEYS)
        if unknown:
            raise ProjectError(f"agents/{agent_id}/agent.json: unknown keys {unknown}; known: {sorted(_KNOWN_KEYS)}")
    kind = settings.get("kind", "python")
    if kind not in ("python", "nova_act"):
        raise ProjectError(f"agents/{agent_id}/agent.json: kind must be 'python' or 'nova_act', not {kind!r}")
    nova_act = None
    if kind == "nova_act":
        raw = settings.get("nova_act") or {}
        name = raw.get("workflow_definition_name")
        if not name:
            raise ProjectError(f"agents/{agent_id}/agent.json: a nova_act agent needs nova_act.workflow_definition_name")
        nova_act = NovaActSettings(workflow_definition_name=name, api_key_secret_name=raw.get("api_key_secret_name"))
    environment = settings.get("environment") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items()):
        raise ProjectError(f"agents/{agent_id}/agent.json: environment must map strings to strings")
    lifecycle = settings.get("lifecycle") or {}
    entrypoint = settings.get("entrypoint", "main.py")
    if not (folder / entrypoint).is_file():
        raise ProjectError(f"agents/{agent_id}: entrypoint {entrypoint} does not exist")
    return AgentSpec(
        agent_id=agent_id,
        path=folder.resolve(),
        kind=kind,
        description=settings.get("description", ""),
        entrypoint=entrypoint,
        environment=MappingProxyType(dict(environment)),
        idle_timeout_seconds=int(lifecycle.get("idle_timeout_seconds", 900)),
        max_lifetime_seconds=int(lifecycle.get("max_lifetime_seconds", 28_800)),
        model_ids=tuple(settings.get("model_ids", ())),
        nova_act=nova_act,
    )


def discover_agents(agents_dir: str | Path) -> dict[str, AgentSpec]:
    """Read every agent folder under ``agents_dir``.

    Parameters
    ----------
    agents_dir:
        The ``agents/`` folder. A missing folder means no agents.

    Returns
    -------
    dict[str, AgentSpec]
        Agents by id, sorted by id.

    Raises
    ------
    ProjectError
        When a folder is not a valid agent (bad id, no Dockerfile, bad ``agent.json``).
    """
    root = Path(agents_dir)
    if not root.is_dir():
        return {}
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    return {folder.name: _read_spec(folder) for folder in folders}
