"""A project: the workflow files of ``workflows/`` and the agent folders of ``agents/``, validated together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Mapping

from .agents import AgentSpec, discover_agents
from .exceptions import ProjectError, ValidationIssue, WorkflowValidationError
from .loader import load_workflow
from .model import Workflow

__all__ = ["Project", "load_project", "WORKFLOW_SUFFIXES", "chain_issues", "import_tools", "registered_tools"]

WORKFLOW_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Project:
    """Everything ``cdk deploy`` and the local engine need to know about a checkout.

    Attributes
    ----------
    root:
        The project folder (holding ``workflows/`` and ``agents/``).
    workflows:
        Validated workflows by name.
    agents:
        Agents by id.
    tools:
        Registered tool names (``tools/``), empty until tools exist.
    """

    root: Path
    workflows: Mapping[str, Workflow]
    agents: Mapping[str, AgentSpec]
    tools: frozenset[str] = frozenset()


def import_tools(root: str | Path) -> ModuleType | None:
    """Import the project's ``tools`` package from ``<root>/tools/`` as module ``tools``, without touching ``sys.path``.

    The package is loaded from its folder with :mod:`importlib` and registered in
    ``sys.modules`` under ``tools`` (its submodules import relatively, through the package's own
    search location), which is how ``lambdas/tool_call`` finds it when the local engine loads that
    handler. A ``tools`` module already imported from the same folder is reused; one from another
    folder is replaced, with its submodules.

    Parameters
    ----------
    root:
        The project folder.

    Returns
    -------
    module or None
        The package, or ``None`` when ``<root>/tools/__init__.py`` does not exist.

    Raises
    ------
    ProjectError
        When the package fails to import.
    """
    from stepgraph_runtime.packages import import_package

    folder = Path(root) / "tools"
    if not (folder / "__init__.py").is_file():
        return None
    try:
        return import_package("tools", folder)
    except Exception as exc:
        raise ProjectError(f"tools/ failed to import: {type(exc).__name__}: {exc}") from exc


def registered_tools(root: str | Path | None = None) -> frozenset[str]:
    """Names of the tools the app registers in its ``tools/`` package (empty when there is none).

    Parameters
    ----------
    root:
        Project folder holding ``tools/`` (imported with :func:`import_tools`); ``None`` imports
        ``tools`` as ``import tools`` would.

    Raises
    ------
    ProjectError
        When ``tools/`` exists but fails to import.
    """
    import importlib

    if root is not None:
        module = import_tools(root)
        return frozenset(getattr(module, "REGISTRY", {})) if module is not None else frozenset()
    try:
        module = importlib.import_module("tools")
    except ModuleNotFoundError as exc:
        if exc.name == "tools":
            return frozenset()
        raise ProjectError(f"tools/ failed to import: {exc}") from exc
    except Exception as exc:
        raise ProjectError(f"tools/ failed to import: {type(exc).__name__}: {exc}") from exc
    return frozenset(getattr(module, "REGISTRY", {}))


def chain_issues(workflows: Mapping[str, Workflow]) -> list[ValidationIssue]:
    """Problems of ``on_complete`` across workflows: unknown targets and cycles (SPEC §5)."""
    issues: list[ValidationIssue] = []
    for wf in workflows.values():
        for i, target in enumerate(wf.on_complete):
            if target.workflow not in workflows:
                issues.append(ValidationIssue(f"on_complete names unknown workflow '{target.workflow}' (known: {', '.join(sorted(workflows))})", None, f"{wf.name}: on_complete[{i}]"))
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in workflows[name].on_complete:
            if target.workflow not in workflows:
                continue
            if state.get(target.workflow) == 1:
                cycle = path[path.index(target.workflow):] + [target.workflow]
                issues.append(ValidationIssue(f"on_complete chains loop forever: {' -> '.join(cycle)}", None, f"{name}: on_complete"))
            elif target.workflow not in state:
                visit(target.workflow, path + [target.workflow])
        state[name] = 2

    for name in sorted(workflows):
        if name not in state:
            visit(name, [name])
    return issues


def load_project(root: str | Path = ".") -> Project:
    """Read and validate every workflow and agent of a project.

    Parameters
    ----------
    root:
        Folder holding ``workflows/`` and ``agents/``.

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        When an agent folder or a workflow file cannot be read, or two workflows share a name.
    WorkflowValidationError
        With every problem of every workflow file, and chain problems across them.
    """
    base = Path(root).resolve()
    agents = discover_agents(base / "agents")
    tools = registered_tools(base)
    workflows: dict[str, Workflow] = {}
    problems: list[ValidationIssue] = []
    files = sorted(p for p in (base / "workflows").glob("*") if p.suffix in WORKFLOW_SUFFIXES) if (base / "workflows").is_dir() else []
    for file in files:
        try:
            wf = load_workflow(file, agents=agents.keys(), tools=tools)
        except WorkflowValidationError as exc:
            problems += [ValidationIssue(i.message, i.step_id, f"{file.name}: {i.path}") for i in exc.issues]
            continue
        if wf.name in workflows:
            raise ProjectError(f"{file}: workflow name '{wf.name}' is already used by {workflows[wf.name].source}")
        workflows[wf.name] = wf
    problems += chain_issues(workflows)
    if problems:
        raise WorkflowValidationError(problems, source=str(base / "workflows"))
    return Project(root=base, workflows=MappingProxyType(workflows), agents=MappingProxyType(agents), tools=tools)
