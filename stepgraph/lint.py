"""Warnings about a valid workflow: things that run, but probably not as meant (SPEC §8).

Warnings never change an exit code. Each is a :class:`~stepgraph.exceptions.ValidationIssue`
with code ``WARNING``, the step and a JSON path, like a validation problem:

* a single-brace placeholder such as ``{current_message}`` in a template, which is sent
  literally (templates use ``{{ }}``);
* a comparison with a value the compared field can never have, e.g. an approval's
  ``decision`` compared with ``'denied'`` (it is ``approved`` or ``rejected``);
* a comparison of a field that a step's output provably lacks (a ``data_transform`` whose
  ``output`` object has no such key, an approval's fields, an ``api_call``'s);
* an inline ``loop`` that fewer than :data:`INLINE_ITEMS_ASSUMED` items could push past the
  25,000 history events of an execution (SPEC §13). Each item of an inline Map writes its events
  into the parent's history; how many items fit is 25,000 minus the events of the rest of the
  costliest path, divided by the events one more item adds to it (every loop of the workflow
  one item longer; :mod:`stepgraph.cost` counts the events). A loop's items are an expression
  whose length is known only at run time, so the rule assumes an inline loop serves lists of up
  to 1,000 items — larger data sets belong in ``mode: distributed``, where each item is a child
  execution with a history of its own — and warns when its body is heavy enough that fewer fit.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from .exceptions import ValidationIssue
from .expressions import ExpressionError, Reference, brief_repr, condition_comparisons
from .model import Workflow, thaw
from .steps import kind_of

__all__ = ["WARNING", "INLINE_ITEMS_ASSUMED", "workflow_warnings"]

WARNING = "WARNING"
#: Items an inline loop is assumed to run at most (its list's length is known only at run time).
INLINE_ITEMS_ASSUMED = 1_000
#: ``{name}`` or ``{a.b}`` not inside ``{{ }}``: what other template languages call a placeholder.
_SINGLE_BRACE = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}(?!\})")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def _single_braces(workflow: Workflow) -> Iterator[ValidationIssue]:
    for step in workflow.steps:
        for name in kind_of(step).params_type.names_with_role("template"):
            if name not in step.parameters:
                continue
            for where, text in _strings(thaw(step.parameters[name]), f"steps[{step.index}].parameters.{name}"):
                for match in _SINGLE_BRACE.finditer(_TEMPLATE_BLOCKS.sub("", text)):
                    field = match.group(1)
                    yield ValidationIssue(
                        f"'{match.group(0)}' is sent literally; templates substitute {{{{ }}}}, "
                        f"e.g. '{{{{input.{field}}}}}' or '{{{{trigger.{field}}}}}'", step.step_id, where, WARNING)


_TEMPLATE_BLOCKS = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def _comparisons(workflow: Workflow) -> Iterator[ValidationIssue]:
    by_id = workflow.steps_by_id
    for step in workflow.steps:
        for name, spec in kind_of(step).params_type.specs().items():
            if spec.role != "predicate" or not isinstance(step.parameters.get(name), str):
                continue
            try:
                comparisons = condition_comparisons(step.parameters[name])
            except ExpressionError:
                continue  # validation reports it
            where = f"steps[{step.index}].parameters.{name}"
            for op, left, right in comparisons:
                for ref, other in ((left, right), (right, left)):
                    issue = _impossible(ref, other, op, by_id, step.step_id, where)
                    if issue is not None:
                        yield issue


def _impossible(ref: Any, other: Any, op: str, by_id: dict, reader: str, where: str) -> ValidationIssue | None:
    if not isinstance(ref, Reference) or ref.root != "steps" or len(ref.path) < 3 or ref.path[1] != "output":
        return None
    target = by_id.get(str(ref.path[0]))
    if target is None:
        return None
    fields = kind_of(target).output_fields(target)
    if fields is None:
        return None
    field = ref.path[2]
    if field not in fields:
        return ValidationIssue(
            f"'{ref}' is always null: the output of {target.step_type} step '{target.step_id}' has "
            f"{', '.join(sorted(fields)) or 'no fields'}, not '{field}'", reader, where, WARNING)
    values = fields[field]
    if (values is not None and len(ref.path) == 3 and op in ("==", "!=") and isinstance(other, tuple)
            and other[0] == "literal" and other[1] not in values):
        return ValidationIssue(
            f"'{ref}' {op} {brief_repr(other[1])} is always {'false' if op == '==' else 'true'}: "
            f"{field} is one of {', '.join(repr(v) for v in sorted(values, key=str))}", reader, where, WARNING)
    return None


def _inline_loops(workflow: Workflow) -> Iterator[ValidationIssue]:
    from .compiler import compile_workflow
    from .cost import HISTORY_EVENT_LIMIT, Assumptions, estimate
    from .exceptions import WorkflowValidationError

    loops = [s for s in workflow.steps if s.step_type == "loop" and s.parameters.get("mode", "inline") == "inline"]
    if not loops:
        return
    try:
        definition = compile_workflow(workflow).definition
    except (WorkflowValidationError, ValueError):
        return  # validation reports it
    with_one = max(p.history_events for p in estimate(definition, assumptions=Assumptions(loop_items=1)).paths)
    with_two = max(p.history_events for p in estimate(definition, assumptions=Assumptions(loop_items=2)).paths)
    per_item = max(1, with_two - with_one)  # every loop at one more item
    fits = max(0, (HISTORY_EVENT_LIMIT - (with_one - per_item)) // per_item)
    if fits >= INLINE_ITEMS_ASSUMED:
        return
    for step in loops:
        yield ValidationIssue(
            f"inline loop over {step.parameters.get('items')}: each item writes up to {per_item} history events "
            f"(all inline loops of the run together), so about {fits:,} items fit in an execution's "
            f"{HISTORY_EVENT_LIMIT:,} events and more fail it (fewer than the {INLINE_ITEMS_ASSUMED:,} an inline loop is "
            f"assumed to serve); set \"mode\": \"distributed\" if the list can be longer",
            step.step_id, f"steps[{step.index}].parameters.items", WARNING)


def workflow_warnings(workflow: Workflow) -> list[ValidationIssue]:
    """Every warning about a (valid) workflow; an empty list when there is none.

    Examples
    --------
    >>> from stepgraph import parse_workflow
    >>> wf = parse_workflow({"name": "w", "steps": [
    ...     {"step_id": "t", "step_type": "trigger", "next_steps": ["say"]},
    ...     {"step_id": "say", "step_type": "data_transform", "parameters": {"output": {"text": "Hi {name}"}}}]}).workflow
    >>> [w.message.split(";")[0] for w in workflow_warnings(wf)]
    ["'{name}' is sent literally"]
    """
    return [*_single_braces(workflow), *_comparisons(workflow), *_inline_loops(workflow)]
