"""The Lambda handlers of ``lambdas/``, one spec each: read by the stacks and by the local engine.

A handler's folder, its function names (deployed construct id, local function name), the
``${...}`` substitution key a compiled state machine calls it through, the environment
variables it reads (names from :mod:`stepgraph_runtime.env`) and what its asset bundles beside
``handler.py`` are one :class:`HandlerSpec`. A step kind that runs as a Lambda declares its own
(``StepKind.handler``, in its module under ``stepgraph/steps/``); the others are here. ``stacks/workflows_stack.py`` deploys from this table and
``stepgraph/local/engine.py`` registers the same handlers in-process.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from stepgraph_runtime import env

from . import substitutions as keys

__all__ = [
    "Bundle",
    "CHAIN",
    "HANDLERS",
    "HandlerSpec",
    "OTHER_HANDLERS",
    "RECORD_BACKSTOP",
    "STATE_MACHINE_HANDLERS",
    "WEBHOOK",
    "bundle_sources",
    "session_agents",
]


class Bundle(str, Enum):
    """What a function's asset holds beside ``handler.py``."""

    #: The runtime package (:mod:`stepgraph_runtime`), from where stepgraph is installed.
    RUNTIME = "stepgraph_runtime"
    #: The project's ``tools/`` package (registered tools).
    TOOLS = "tools"


@dataclass(frozen=True)
class HandlerSpec:
    """One Lambda handler of ``lambdas/``.

    Attributes
    ----------
    folder:
        The folder under ``lambdas/`` (holds ``handler.py``).
    construct_id:
        Its construct id in the workflows stack.
    local_name:
        Its function name in the local engine's emulated Lambda.
    description:
        The function's description.
    substitution_key:
        The ``${...}`` key (:mod:`stepgraph.substitutions`) through which compiled state
        machines call it; ``None`` for handlers called by something else (the results topic,
        EventBridge, a function URL).
    environment:
        The environment variables it reads (names of :mod:`stepgraph_runtime.env`) and that its
        deployer must set.
    bundles:
        What its asset holds beside ``handler.py`` (:class:`Bundle`).
    timeout_seconds:
        The function's timeout.
    offloads:
        Whether it moves large values through the payloads bucket (``stepgraph_runtime.offload``).
    always_deployed:
        Deployed with any workflow, used or not (the agent invoker).
    """

    folder: str
    construct_id: str
    local_name: str
    description: str
    substitution_key: str | None = None
    environment: tuple[str, ...] = ()
    bundles: tuple[Bundle, ...] = (Bundle.RUNTIME,)
    timeout_seconds: int = 900
    offloads: bool = False
    always_deployed: bool = False

    def code_path(self, lambdas_dir: Path) -> Path:
        """``<lambdas_dir>/<folder>``."""
        return Path(lambdas_dir) / self.folder

    def handler_file(self, project_root: Path) -> Path:
        """``<project>/lambdas/<folder>/handler.py``."""
        return Path(project_root) / "lambdas" / self.folder / "handler.py"


#: Starts downstream workflows (``on_complete``); subscribed to the results topic.
CHAIN = HandlerSpec(
    "chain", "Chain", "stepgraph-chain",
    "Starts the downstream workflows of a finished upstream workflow (on_complete)",
    environment=(env.CHAIN_ROUTES,), timeout_seconds=60,
)
#: Writes missing result records; called by EventBridge on failed, timed-out and stopped executions.
RECORD_BACKSTOP = HandlerSpec(
    "record_backstop", "RecordBackstop", "stepgraph-record-backstop",
    "Writes the result record of an execution that failed, timed out or was stopped without one",
    environment=(env.RESULTS_BUCKET_NAME, env.RESULTS_TOPIC_ARN, env.STATE_MACHINE_NAME_PREFIX, env.SESSION_RUNTIMES),
    timeout_seconds=60,
)
#: One per workflow with a webhook trigger (under the construct ``Webhook<Pascal name>``).
WEBHOOK = HandlerSpec(
    "webhook", "Handler", "stepgraph-webhook", "Checks a webhook delivery's HMAC signature and starts the workflow",
    environment=(env.STATE_MACHINE_ARN, env.WEBHOOK_SECRET_ARN), timeout_seconds=30,
)

#: Handlers that no step kind calls: the results topic, EventBridge and function URLs do.
OTHER_HANDLERS: tuple[HandlerSpec, ...] = (CHAIN, RECORD_BACKSTOP, WEBHOOK)


def _tables() -> tuple[Mapping[str, HandlerSpec], Mapping[str, HandlerSpec]]:
    from .steps import KINDS  # each step kind that runs as a Lambda declares its handler

    kind_handlers = [kind.handler for kind in KINDS.values() if kind.handler is not None]
    by_folder = MappingProxyType({spec.folder: spec for spec in (*kind_handlers, *OTHER_HANDLERS)})
    by_key = MappingProxyType({spec.substitution_key: spec for spec in by_folder.values() if spec.substitution_key})
    return by_folder, by_key


def __getattr__(name: str):
    """``HANDLERS`` (every handler, by folder) and ``STATE_MACHINE_HANDLERS`` (those compiled state
    machines call, by substitution key): built from the step kinds' ``handler`` and
    :data:`OTHER_HANDLERS` on first use."""
    if name in ("HANDLERS", "STATE_MACHINE_HANDLERS"):
        by_folder, by_key = _tables()
        globals().update(HANDLERS=by_folder, STATE_MACHINE_HANDLERS=by_key)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def session_agents(workflows: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """Workflow name → the agents whose sessions its executions use: its own and its subflows' (transitively).

    ``workflows`` maps names to compiled workflows (anything with ``agent_ids`` and
    ``child_workflows``). A nested execution shares its parent's session id, so the parent,
    which ends last, stops the sessions of the whole tree (``lambdas/record_backstop``).
    Workflows without agents are left out.
    """
    def agents_of(name: str, seen: frozenset[str]) -> set[str]:
        compiled = workflows.get(name)
        if compiled is None or name in seen:
            return set()
        found = set(getattr(compiled, "agent_ids", ()))
        for child in getattr(compiled, "child_workflows", ()):
            found |= agents_of(child, seen | {name})
        return found

    result = {name: tuple(sorted(agents_of(name, frozenset()))) for name in sorted(workflows)}
    return {name: agents for name, agents in result.items() if agents}


def bundle_sources(spec: HandlerSpec, project_root: Path) -> dict[str, Path]:
    """What to copy into a handler's asset: path inside the asset → source folder.

    The runtime package comes from where :mod:`stepgraph_runtime` is installed (any project
    gets the runtime of the stepgraph that deploys it); ``tools`` from the project.
    """
    import stepgraph_runtime

    sources = {Bundle.RUNTIME: Path(stepgraph_runtime.__file__).resolve().parent,
               Bundle.TOOLS: Path(project_root) / "tools"}
    return {bundle.value: sources[bundle] for bundle in spec.bundles}
