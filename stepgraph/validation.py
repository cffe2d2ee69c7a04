"""Validation of a workflow model (SPEC §3, §4, §7): every problem at once, each with its step.

Rules checked here, for every step kind alike: exactly one entry step (the trigger), known step
ids in ``next_steps``, ``else_steps`` and the ids a kind's parameters name; no cycles; every
step reachable; sub-graphs do not leak; how many next steps a kind allows; ``retry`` and
``timeout_seconds`` only on steps that do work; expressions parse and reference known roots and
steps. Each kind (:mod:`stepgraph.steps`) checks its own parameters, agents, tools and workflows.
"""

from __future__ import annotations

from typing import Collection

from .exceptions import ValidationIssue
from .expressions import ExpressionError, Reference, condition_references, template_references
from .graph import GraphAnalysis, Scope, analyze_graph
from .model import Step, Workflow
from .steps import Checker, kind_of, kinds_where
from .steps.base import SECRET_NAME, article
from .steps.delay import utc_timestamp
from .steps.trigger import validate_schedule_expression

__all__ = ["validate_workflow", "validate_schedule_expression", "step_references", "utc_timestamp"]


def _references(step: Step, issues: list[ValidationIssue] | None) -> list[tuple[str, Reference]]:
    """``(parameter, reference)`` for every expression of a step; malformed ones go to ``issues``.

    Which parameters hold templates, single expressions or conditions is declared by the
    step's kind (:class:`stepgraph.steps.base.ParamSpec` ``role``).
    """
    path = f"steps[{step.index}].parameters"
    found: list[tuple[str, Reference]] = []
    for name, spec in kind_of(step).params_type.specs().items():
        if spec.role == "value" or name not in step.parameters:
            continue
        value = step.parameters[name]
        if spec.role != "template" and not isinstance(value, str):
            continue  # e.g. a number of seconds; the parameter checks report other types
        try:
            refs = template_references(value) if spec.role == "template" else condition_references(value)
        except ExpressionError as exc:
            if issues is not None:
                what = "condition" if spec.role == "predicate" else "expression"
                issues.append(ValidationIssue(f"malformed {what}: {exc}", step.step_id, f"{path}.{name}"))
            continue
        found += [(name, r) for r in refs]
    return found


def step_references(step: Step) -> list[Reference]:
    """Every reference in a step's expressions and templates (malformed ones are skipped)."""
    return [ref for _, ref in _references(step, None)]


def _visible_instead(graph: GraphAnalysis, reader: str, target: str) -> str:
    """What a reader of ``steps.<target>.output`` can read instead, in words."""
    enclosing: set[int] = set()
    scope = graph.scope_of.get(reader)
    while scope is not None:  # the reader's scope and the ones around it
        enclosing.add(id(scope))
        scope = scope.parent
    chain: list[Scope] = []
    scope = graph.scope_of.get(target)
    while scope is not None and id(scope) not in enclosing:
        chain.append(scope)
        scope = scope.parent
    outer = chain[-1] if chain else None
    if outer is not None and outer.owner is not None:
        if outer.kind == "branch":
            return (f"'{target}' runs inside {outer.describe()}, which is not visible here; "
                    f"read its branch's result as steps.{outer.owner}.output.{outer.entry}")
        return (f"'{target}' runs inside {outer.describe()}, which is not visible here; "
                f"read the loop's results as steps.{outer.owner}.output (one result per item)")
    return f"'{target}' has not run before '{reader}' on any path; only steps that run earlier can be read"


def _check_references(step: Step, scope: Scope | None, known_ids: Collection[str], issues: list[ValidationIssue],
                      graph: GraphAnalysis | None = None) -> None:
    path = f"steps[{step.index}].parameters"
    found = _references(step, issues)
    for name, ref in found:
        where = f"{path}.{name}"
        if ref.root == "steps":
            if not ref.path or not isinstance(ref.path[0], str):
                issues.append(ValidationIssue(f"'{ref}' must name a step: steps.<step_id>.output", step.step_id, where))
            elif ref.path[0] not in known_ids:
                issues.append(ValidationIssue(f"'{ref}' refers to unknown step '{ref.path[0]}'", step.step_id, where))
            elif len(ref.path) < 2 or ref.path[1] != "output":
                issues.append(ValidationIssue(f"'{ref}': a step's value is read as steps.{ref.path[0]}.output", step.step_id, where))
            elif (graph is not None and scope is not None and ref.path[0] in graph.scope_of
                  and ref.path[0] != step.step_id and ref.path[0] not in graph.runs_before(step.step_id)):
                issues.append(ValidationIssue(
                    f"'{ref}' reads step '{ref.path[0]}' from step '{step.step_id}': "
                    + _visible_instead(graph, step.step_id, str(ref.path[0])), step.step_id, where))
        elif ref.root == "execution" and (not ref.path or ref.path[0] not in ("id", "name", "start_time") or len(ref.path) > 1):
            issues.append(ValidationIssue(f"'{ref}': execution has id, name and start_time", step.step_id, where))
        elif ref.root == "workflow" and list(ref.path) != ["name"]:
            issues.append(ValidationIssue(f"'{ref}': the only workflow field is workflow.name", step.step_id, where))
        elif ref.root == "secrets":
            spec = kind_of(step).params_type.specs().get(name)
            if spec is None or not spec.secrets:
                issues.append(ValidationIssue(
                    f"'{ref}': a secret is only read in an api_call step's headers (resolved at call time, "
                    "never placed in the state machine, its input or its history)", step.step_id, where))
            elif len(ref.path) != 1 or not isinstance(ref.path[0], str) or not SECRET_NAME.match(ref.path[0]):
                issues.append(ValidationIssue(
                    f"'{ref}': name one secret, secrets.<name> with a name of [A-Za-z0-9_-]", step.step_id, where))
        elif ref.root in ("item", "index") and not (scope is not None and scope.in_loop):
            issues.append(ValidationIssue(f"'{ref}' exists only inside a loop body", step.step_id, where))


def _check_edges(workflow: Workflow, known_ids: set[str], issues: list[ValidationIssue]) -> set[str]:
    """Problems of ``next_steps``/``else_steps`` and of the ids kinds name; returns every target."""
    targets: set[str] = set()
    else_kinds = " and ".join(k.step_type for k in kinds_where(lambda k: k.takes_else))
    for step in workflow.steps:
        kind = kind_of(step)
        path = f"steps[{step.index}]"
        for key, ids in (("next_steps", step.next_steps), ("else_steps", step.else_steps)):
            for target in ids:
                targets.add(target)
                if target not in known_ids:
                    issues.append(ValidationIssue(f"{key} names unknown step '{target}'", step.step_id, f"{path}.{key}"))
                if target == step.step_id:
                    issues.append(ValidationIssue(f"{key} names the step itself", step.step_id, f"{path}.{key}"))
            for target in sorted({t for t in ids if ids.count(t) > 1}):
                issues.append(ValidationIssue(f"{key} names step '{target}' more than once", step.step_id, f"{path}.{key}"))
        if step.else_steps and not kind.takes_else:
            issues.append(ValidationIssue(f"else_steps only apply to {else_kinds} steps", step.step_id, f"{path}.else_steps"))
        if kind.max_next_steps is not None and not kind.takes_else and len(step.next_steps) > kind.max_next_steps:
            issues.append(ValidationIssue(
                f"{article(step.step_type)} {step.step_type} step has at most one next step (found {len(step.next_steps)}); use a parallel step to fan out",
                step.step_id, f"{path}.next_steps"))
        if kind.takes_else:
            for key, ids in (("next_steps", step.next_steps), ("else_steps", step.else_steps)):
                if len(ids) > 1:
                    issues.append(ValidationIssue(f"{key} of a {step.step_type} step names one step (found {len(ids)}); use a parallel step to fan out", step.step_id, f"{path}.{key}"))
        for name in _id_parameters(step):
            ref = step.parameters.get(name)
            if isinstance(ref, str):
                targets.add(ref)
                if ref not in known_ids:
                    issues.append(ValidationIssue(f"{name} names unknown step '{ref}'", step.step_id, f"{path}.parameters.{name}"))
        if not kind.does_work:
            if step.retry is not None:
                issues.append(ValidationIssue(f"retry does not apply to a {step.step_type} step (it calls nothing that can fail transiently)", step.step_id, f"{path}.retry"))
            if step.timeout_seconds is not None:
                issues.append(ValidationIssue(f"timeout_seconds does not apply to a {step.step_type} step", step.step_id, f"{path}.timeout_seconds"))
    return targets


def _id_parameters(step: Step) -> list[str]:
    """Names of the step's parameters that hold step ids (a loop's ``body``, a parallel's ``join``)."""
    return [name for name, spec in kind_of(step).params_type.specs().items() if spec.step_ref]


def validate_workflow(
    workflow: Workflow,
    *,
    agents: Collection[str] | None = None,
    tools: Collection[str] | None = None,
    workflows: Collection[str] | None = None,
    unreadable_step_ids: Collection[str] = (),
) -> list[ValidationIssue]:
    """Return every problem of a workflow (an empty list when it is valid).

    Parameters
    ----------
    workflow:
        The model, as read by :func:`stepgraph.loader.parse_workflow`.
    agents, tools, workflows:
        Known agent ids, tool names and workflow names of the app; ``None`` skips those checks.
    unreadable_step_ids:
        Ids of steps the loader could not read (an unknown type, say); edges to them are not
        reported again as unknown, and their parameters are not checked.

    Returns
    -------
    list[ValidationIssue]
        Each with the step id, a JSON path and a sentence; code ``VALIDATION_ERROR``.
    """
    issues: list[ValidationIssue] = []
    by_id = workflow.steps_by_id
    known_ids = set(by_id) | set(unreadable_step_ids)

    seen: set[str] = set()
    for step in workflow.steps:
        if step.step_id in seen:
            issues.append(ValidationIssue("duplicate step_id; step ids are unique (they become state names)", step.step_id, f"steps[{step.index}].step_id"))
        seen.add(step.step_id)

    entry_type = next(k.step_type for k in kinds_where(lambda k: k.is_entry))
    entries = [s for s in workflow.steps if kind_of(s).is_entry]
    if not entries:
        issues.append(ValidationIssue(f"a workflow has exactly one {entry_type} step, found 0", None, "steps"))
    for extra in entries[1:]:
        issues.append(ValidationIssue(
            f"a workflow has exactly one {entry_type} step, found {len(entries)}; '{entries[0].step_id}' is the entry",
            extra.step_id, f"steps[{extra.index}].step_type"))

    targets = _check_edges(workflow, known_ids, issues)
    for entry in entries:
        if entry.step_id in targets:
            issues.append(ValidationIssue(f"the {entry_type} is the entry step; no step may lead back to it", entry.step_id, f"steps[{entry.index}]"))

    graph = analyze_graph(workflow)
    issues.extend(graph.issues)
    for step in workflow.steps:
        if step.step_id in unreadable_step_ids:
            continue  # its parameters could not be read; the loader reported why
        kind_of(step).validate(step, Checker(step, issues, agents=agents, tools=tools, workflows=workflows))
        _check_references(step, graph.scope_of.get(step.step_id), known_ids, issues, graph)
    if not issues and not unreadable_step_ids:
        issues.extend(_budget_issues(workflow))
    return issues


def _budget_issues(workflow: Workflow) -> list[ValidationIssue]:
    """Step Functions' limits the compiled machine must keep (SPEC §13): its definition's size."""
    from .compiler import compile_workflow
    from .exceptions import WorkflowValidationError

    try:
        compile_workflow(workflow)
    except WorkflowValidationError as exc:
        return list(exc.issues)
    return []
