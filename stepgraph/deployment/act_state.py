"""The Nova Act CLI's deployment state file (SPEC §11).

:func:`write_act_state` writes the Nova Act CLI's deployment state file, so existing Nova Act
invocation code finds each runtime's ARN unchanged.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .errors import ActStateError
from .outputs import Deployment

#: Schema version of the Nova Act CLI's state file (FIELD-NOTES "Nova Act").
ACT_STATE_VERSION = "1.0"
#: Workflow names the ``act`` CLI accepts (nova-act 3.4.187.0; FIELD-NOTES second round).
ACT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
#: How long to wait for ``act``'s lock file, in seconds (its own ``StateLockInfo.timeout``).
ACT_LOCK_TIMEOUT_SECONDS = 30.0


def act_name(name: str) -> str:
    """A name ``act`` accepts for ``name``: other characters become ``-``, a leading non-letter gets ``a-``.

    Examples
    --------
    >>> act_name("support_agent")
    'support-agent'
    """
    cleaned = re.sub(r"[^a-zA-Z0-9-]", "-", name)
    return cleaned if ACT_NAME.match(cleaned) else f"a-{cleaned}"


def act_lock_path(account: str, region: str, *, home: Path | None = None) -> Path:
    """``<home>/.act_cli/state/<account>-<region>.lock``, the lock ``act`` takes to write a region's state."""
    return Path(home if home is not None else Path.home()) / ".act_cli" / "state" / f"{account}-{region}.lock"


@contextmanager
def _act_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold ``act``'s lock the way ``act`` does (a file created exclusively, removed afterwards).

    Raises
    ------
    ActStateError
        When the lock is still held by someone else after ``timeout`` seconds.
    """
    timeout = ACT_LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.touch(exist_ok=False)
            break
        except FileExistsError:
            if time.monotonic() >= deadline:
                raise ActStateError(f"{path} is held by another writer (the act CLI?) for over {timeout:.0f} s; "
                                    "wait for it to finish, or remove the file if no act command is running") from None
            time.sleep(0.1)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


class ActStateWarning(UserWarning):
    """An agent was left out of the Nova Act CLI's state file (see the message)."""


def act_state_path(account: str, region: str, *, home: Path | None = None) -> Path:
    """``<home>/.act_cli/state/<account>/<region>/workflows.json`` (FIELD-NOTES "Nova Act")."""
    return Path(home if home is not None else Path.home()) / ".act_cli" / "state" / account / region / "workflows.json"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _read_act_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"workflows": {}, "last_updated": None, "version": ACT_STATE_VERSION}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActStateError(f"{path} is not a readable JSON document ({exc}); it was left untouched: "
                            "fix it or move it away, then run `stepgraph deploy-state` again") from exc
    if not isinstance(state, dict) or not isinstance(state.get("workflows", {}), dict):
        raise ActStateError(f"{path} does not hold {{\"workflows\": {{...}}}}; it was left untouched: "
                            "fix it or move it away, then run `stepgraph deploy-state` again")
    state.setdefault("workflows", {})
    return state


def _written_by_stepgraph(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("metadata"), dict) and entry["metadata"].get("source") == "stepgraph"


def write_act_state(deployment: Deployment, project: Any, *, home: Path | None = None, now: datetime | None = None,
                    include_python_agents: bool = True) -> Path:
    """Write the Nova Act CLI's deployment state file for the deployed agents.

    The file is ``~/.act_cli/state/<account>/<region>/workflows.json``, schema version ``"1.0"``::

        {"workflows": {"<name>": {"name", "directory_path", "created_at", "workflow_definition_arn",
                                  "deployments": {"agentcore": {"deployment_arn", "image_uri", "image_tag"}},
                                  "metadata", "last_image_tag"}},
         "last_updated", "version": "1.0"}

    so that Nova Act invocation code, which reads
    ``state["workflows"][name]["deployments"]["agentcore"]["deployment_arn"]``, finds each
    runtime's ARN unchanged.

    Which entries are written:

    * every deployed agent of kind ``nova_act``, keyed by its ``nova_act.workflow_definition_name``
      (the name Nova Act code already uses, e.g. ``"getting-started-workflow"``); an entry of that
      name is replaced, whoever wrote it: the workflow is now deployed by stepgraph;
    * with ``include_python_agents`` (the default), every other deployed agent keyed by its agent
      id made valid for ``act`` (:func:`act_name`: ``support_agent`` → ``support-agent``), so the
      same invocation helper reaches any agent of the app. Such an entry never displaces
      an entry stepgraph did not write (one made by ``act`` itself, say): that agent is left out
      with an :class:`ActStateWarning`. A Nova Act entry wins over a python agent of the same name.

    Everything else in the file is kept. ``created_at`` of an entry that existed is kept;
    ``metadata`` records ``{"source": "stepgraph", "agent_id", "kind", "stack_prefix"}``. The
    fields ``act``'s own model requires as strings (``deployment_arn``, ``image_uri``,
    ``image_tag``) are always strings — an image the stack outputs do not name is written as
    ``""`` with a warning — so ``act`` never reports the region's state as corrupted. The file
    is written under ``act``'s lock (:func:`act_lock_path`), atomically (a temporary file in the
    same folder, then ``os.replace``).

    Parameters
    ----------
    deployment:
        From :func:`load_deployment` (gives account, region, runtime ARNs, and the optional
        workflow definition ARNs and image URIs/tags; absent ones are written as ``null``).
    project:
        The project (anything with an ``agents`` mapping of :class:`stepgraph.AgentSpec`): kinds,
        Nova Act names and folders. Agents that are not deployed are left out with a warning.
    home:
        The home folder; default ``Path.home()``.
    now:
        Timestamp of the update; default the current UTC time.
    include_python_agents:
        Also write non-Nova-Act agents, keyed by agent id. Default ``True``.

    Returns
    -------
    Path
        The state file.

    Raises
    ------
    ActStateError
        When the existing file is not valid JSON of the expected shape (it is left untouched).

    Examples
    --------
    >>> path = write_act_state(load_deployment(), load_project("."))  # doctest: +SKIP
    >>> json.loads(path.read_text())["workflows"]["getting-started-workflow"]["deployments"]["agentcore"]["deployment_arn"]  # doctest: +SKIP
    'arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/getting_started-AbCdEf1234'
    """
    with _act_lock(act_lock_path(deployment.account, deployment.region, home=home)):
        return _write_act_state(deployment, project, home=home, now=now, include_python_agents=include_python_agents)


def _write_act_state(deployment: Deployment, project: Any, *, home: Path | None, now: datetime | None,
                     include_python_agents: bool) -> Path:
    moment = _iso(now or datetime.now(timezone.utc))
    path = act_state_path(deployment.account, deployment.region, home=home)
    state = _read_act_state(path)
    workflows: dict[str, Any] = state["workflows"]
    agents = dict(getattr(project, "agents", {}) or {})
    entries: dict[str, dict[str, Any]] = {}
    nova_names: set[str] = set()
    ordered = sorted(agents.values(), key=lambda a: (a.kind != "nova_act", a.agent_id))
    for spec in ordered:
        arn = deployment.runtimes.get(spec.agent_id)
        if not arn:
            warnings.warn(ActStateWarning(f"agent {spec.agent_id!r} has no deployed runtime in {deployment.region}; "
                                          "left out (deploy it with `npx cdk deploy --all`)"), stacklevel=2)
            continue
        if spec.kind == "nova_act" and spec.nova_act is not None:
            name = spec.nova_act.workflow_definition_name
            if not ACT_NAME.match(name):
                warnings.warn(ActStateWarning(f"Nova Act workflow {name!r} of agent {spec.agent_id!r} is not a name act "
                                              f"accepts ({ACT_NAME.pattern}); written as {act_name(name)!r}"), stacklevel=2)
                name = act_name(name)
            nova_names.add(name)
        else:
            if not include_python_agents:
                continue
            name = act_name(spec.agent_id)
            if name in nova_names:
                warnings.warn(ActStateWarning(f"agent {name!r} shares its name with a Nova Act workflow; left out"), stacklevel=2)
                continue
            if name in workflows and not _written_by_stepgraph(workflows[name]):
                warnings.warn(ActStateWarning(f"{path} already has a workflow {name!r} that stepgraph did not write; "
                                              f"agent {name!r} left out so that entry keeps working"), stacklevel=2)
                continue
        previous = workflows.get(name) if isinstance(workflows.get(name), dict) else {}
        image_uri, tag = deployment.image_uris.get(spec.agent_id), deployment.image_tags.get(spec.agent_id)
        if not image_uri or not tag:
            warnings.warn(ActStateWarning(f"the stack outputs name no image URI/tag for agent {spec.agent_id!r}; "
                                          "written as \"\" (act requires strings)"), stacklevel=2)
        image_uri, tag = str(image_uri or ""), str(tag or "")
        entries[name] = {
            "name": name,
            "directory_path": str(spec.path),
            "created_at": previous.get("created_at") or moment,
            "workflow_definition_arn": deployment.workflow_definition_arns.get(spec.agent_id),
            "deployments": {"agentcore": {
                "deployment_arn": arn,
                "image_uri": image_uri,
                "image_tag": tag,
            }},
            "metadata": {"source": "stepgraph", "agent_id": spec.agent_id, "kind": spec.kind,
                         "stack_prefix": deployment.prefix},
            "last_image_tag": tag,
        }
    workflows.update(entries)
    state["last_updated"] = moment
    state["version"] = ACT_STATE_VERSION
    _write_atomically(path, json.dumps(state, indent=2, ensure_ascii=False) + "\n")
    return path


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
