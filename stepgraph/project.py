"""A project: the workflow files of ``workflows/`` and the agent folders of ``agents/``, validated together."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Mapping

from .agents import AgentSpec, discover_agents
from .exceptions import ProjectError, ValidationIssue, WorkflowValidationError
from .loader import load_workflow, read_document
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
    problems:
        Workflows of ``workflows/`` that are invalid, by name (or by file name when the
        document has no readable name): every problem of each. Empty for a project loaded
        with ``strict=True``.
    """

    root: Path
    workflows: Mapping[str, Workflow]
    agents: Mapping[str, AgentSpec]
    tools: frozenset[str] = frozenset()
    problems: Mapping[str, tuple[ValidationIssue, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def workflow_names(self) -> frozenset[str]:
        """Names of every workflow of the project, valid or not (what subflows and chains may name)."""
        return frozenset(self.workflows) | frozenset(self.problems)

    def workflow(self, name: str) -> Workflow:
        """A valid workflow of the project.

        Raises
        ------
        WorkflowValidationError
            When the workflow's file is invalid (with its problems).
        ProjectError
            When no workflow has that name.
        """
        if name in self.workflows:
            return self.workflows[name]
        if name in self.problems:
            raise WorkflowValidationError(self.problems[name], source=f"workflow '{name}'")
        raise ProjectError(f"unknown workflow '{name}' (known: {', '.join(sorted(self.workflow_names)) or 'none'})")

    def with_file(self, path: str | Path) -> tuple["Project", Workflow, str | None]:
        """Read any workflow file against this project: the file given is the one that runs.

        The file is validated with the project's agents, tools and workflow names, and replaces
        a project workflow of the same name. Returns ``(project, workflow, note)``, where
        ``note`` says, in one line, which project file the given one stands in for (or is
        ``None``).

        Raises
        ------
        ProjectError, WorkflowValidationError
            When the file cannot be read or is invalid.
        """
        file = Path(path).resolve()
        workflow = load_workflow(file, agents=self.agents.keys(), tools=self.tools, workflows=self.workflow_names)
        note = None
        shadowed = self.workflows.get(workflow.name)
        if shadowed is not None and shadowed.source is not None and Path(shadowed.source).resolve() != file:
            note = f"running {file} as workflow '{workflow.name}' (instead of the project's {shadowed.source})"
        workflows = {**self.workflows, workflow.name: workflow}
        problems = {k: v for k, v in self.problems.items() if k != workflow.name}
        cross = chain_issues(workflows)
        if cross:
            raise WorkflowValidationError(cross, source=str(file))
        return (Project(root=self.root, workflows=MappingProxyType(workflows), agents=self.agents, tools=self.tools,
                        problems=MappingProxyType(problems)), workflow, note)


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
    """Problems across workflows (SPEC §3, §5): unknown ``on_complete`` targets, and cycles.

    A cycle may run through ``on_complete`` chains (the next run starts when one ends) and
    ``subflow`` steps (a nested execution); either way it would run forever.
    """
    issues: list[ValidationIssue] = []
    for wf in workflows.values():
        for i, target in enumerate(wf.on_complete):
            if target.workflow not in workflows:
                issues.append(ValidationIssue(f"on_complete names unknown workflow '{target.workflow}' (known: {', '.join(sorted(workflows))})", None, f"{wf.name}: on_complete[{i}]"))

    def edges(name: str) -> list[tuple[str, str]]:
        """Workflows ``name`` starts, each with how: ``on_complete``, or the step type that nests it."""
        from .steps import kind_of

        wf = workflows[name]
        nested = [(child, str(step.step_type)) for step in wf.steps for child in kind_of(step).workflows_used(step)]
        return [(t.workflow, "on_complete") for t in wf.on_complete] + nested

    state: dict[str, int] = {}

    def visit(name: str, path: list[str], how: list[str]) -> None:
        state[name] = 1
        for target, via in edges(name):
            if target not in workflows:
                continue
            if state.get(target) == 1:
                start = path.index(target)
                cycle = path[start:] + [target]
                kinds = set(how[start:] + [via])
                if kinds == {"on_complete"}:
                    issues.append(ValidationIssue(f"on_complete chains loop forever: {' -> '.join(cycle)}", None, f"{name}: on_complete"))
                else:
                    issues.append(ValidationIssue(
                        f"workflows run each other forever ({' and '.join(sorted(kinds))}): {' -> '.join(cycle)}",
                        None, f"{name}: {via}"))
            elif target not in state:
                visit(target, path + [target], how + [via])
        state[name] = 2

    for name in sorted(workflows):
        if name not in state:
            visit(name, [name], [])
    return issues


def load_project(root: str | Path = ".", *, strict: bool = True) -> Project:
    """Read and validate every workflow and agent of a project.

    Parameters
    ----------
    root:
        Folder holding ``workflows/`` and ``agents/``.
    strict:
        ``True`` (what ``cdk deploy`` needs): any invalid workflow raises. ``False`` (what a
        local run needs): invalid workflows are kept in ``Project.problems`` and reported only
        when one of them is run, chained to or nested.

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        When an agent folder or a workflow file cannot be read, or two workflows share a name.
    WorkflowValidationError
        With every problem of every workflow file, and chain problems across them (``strict``).
    """
    base = Path(root).resolve()
    agents = discover_agents(base / "agents")
    tools = registered_tools(base)
    files = sorted(p for p in (base / "workflows").glob("*") if p.suffix in WORKFLOW_SUFFIXES) if (base / "workflows").is_dir() else []
    names: dict[Path, str] = {}
    for file in files:  # first the names, so a subflow may name a workflow read later
        try:
            document = read_document(file)
        except ProjectError:
            if strict:
                raise
            continue
        if isinstance(document, dict) and isinstance(document.get("name"), str):
            names[file] = document["name"]
    known = frozenset(names.values())
    workflows: dict[str, Workflow] = {}
    problems: list[ValidationIssue] = []
    invalid: dict[str, tuple[ValidationIssue, ...]] = {}
    for file in files:
        try:
            wf = load_workflow(file, agents=agents.keys(), tools=tools, workflows=known)
        except WorkflowValidationError as exc:
            problems += [ValidationIssue(i.message, i.step_id, f"{file.name}: {i.path}") for i in exc.issues]
            invalid[names.get(file, file.name)] = exc.issues
            continue
        except ProjectError as exc:
            if strict:
                raise
            invalid[names.get(file, file.name)] = (ValidationIssue(str(exc), None, file.name),)
            continue
        if wf.name in workflows:
            raise ProjectError(f"{file}: workflow name '{wf.name}' is already used by {workflows[wf.name].source}")
        workflows[wf.name] = wf
    cross = chain_issues(workflows)
    problems += cross
    if problems and strict:
        raise WorkflowValidationError(problems, source=str(base / "workflows"))
    for issue in cross:  # a workflow in a cycle cannot run either
        invalid.setdefault(issue.path.split(":", 1)[0], (issue,))
    valid = {name: wf for name, wf in workflows.items() if name not in invalid}
    return Project(root=base, workflows=MappingProxyType(valid), agents=MappingProxyType(agents), tools=tools,
                   problems=MappingProxyType(invalid))
