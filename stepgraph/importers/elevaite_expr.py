"""elevAIte names, step conditions and schedules, translated to stepgraph ids, conditions and triggers.

Sources (elevAIte's workflow-core-sdk, repository ``ottobonilla95/elevaite-test``,
``python_packages/workflow-core-sdk/workflow_core_sdk/``): ``utils/condition_evaluator.py``
(operators, string form ``"step.output.field == 'x'"``, ``{left_operand, operator, right_operand}``,
``{conditions, logical_operator}``), ``execution/engine_impl.py`` ``_should_execute_step`` (a list
means AND) and ``_prepare_condition_context`` (``<step>.output.x`` and ``<step>.x`` both read the
step's output), ``schemas/workflows.py`` ``CronSchedule`` and ``scheduler.py`` (croniter crons,
``interval_seconds``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

__all__ = [
    "slug_id", "workflow_name", "agent_id", "tool_name", "parse_conditions", "render_condition",
    "Comparison", "Logical", "schedule_parameters",
]

_NON_ID = re.compile(r"[^A-Za-z0-9]+")


def slug_id(text: str, *, limit: int = 64) -> str:
    """A step id from a display name: lower case, runs of other characters become ``_`` ("E2E Step" → ``e2e_step``)."""
    slug = _NON_ID.sub("_", str(text)).strip("_").lower()
    return slug[:limit].rstrip("_") or "step"


def workflow_name(text: str) -> str:
    """A workflow name (``[A-Za-z0-9_-]{1,64}``) from a display name: "E2E Ad Copy Transformer" → ``e2e-ad-copy-transformer``."""
    slug = _NON_ID.sub("-", str(text)).strip("-").lower()
    return slug[:64].rstrip("-") or "imported-workflow"


def agent_id(text: str) -> str:
    """An agent id (``[a-zA-Z][a-zA-Z0-9_]{0,47}``) from an agent's display name."""
    slug = slug_id(text, limit=48)
    if not slug[0].isalpha():
        slug = f"agent_{slug}"[:48]
    return slug


def tool_name(text: str) -> str:
    """A tool name (``[a-z][a-z0-9_]{0,63}``, the ``tools`` registry rule) from a tool's name."""
    slug = slug_id(text, limit=64)
    if not slug[0].isalpha():
        slug = f"tool_{slug}"[:64]
    return slug


# ------------------------------------------------------------------------------ conditions

#: elevAIte's ``ConditionOperator`` values, longest first so ``>=`` is not read as ``>``.
_BINARY = ("not_contains", "starts_with", "ends_with", "regex_match", "contains", "not_in",
           "==", "!=", ">=", "<=", ">", "<", "in")
_UNARY = ("is_not_empty", "is_empty", "is_not_null", "is_null")
_LOGICAL = ("and", "or", "not")


@dataclass(frozen=True)
class Comparison:
    """One elevAIte condition: ``left`` (a dotted path such as ``approval.output.decision``), ``op``, ``right``."""

    left: str
    op: str
    right: Any = None


@dataclass(frozen=True)
class Logical:
    """``op`` (``and``/``or``/``not``) over ``items``."""

    op: str
    items: tuple


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        if text in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[text]
        return text


def _parse_string(text: str) -> Comparison:
    stripped = text.strip()
    for op in _UNARY:
        if stripped.endswith(f" {op}"):
            return Comparison(stripped[: -len(op) - 1].strip(), op)
    for op in _BINARY:
        pattern = rf"\s{re.escape(op)}\s" if op[0].isalpha() else re.escape(op)
        match = re.search(pattern, stripped)
        if match:
            return Comparison(stripped[: match.start()].strip(), op, _literal(stripped[match.end():]))
    raise ValueError(f"cannot read the condition {text!r} (expected '<step>.output.<field> <operator> <value>')")


def _parse_item(item: Any) -> Comparison | Logical:
    if isinstance(item, str):
        return _parse_string(item)
    if isinstance(item, dict):
        if "conditions" in item or "logical_operator" in item:
            op = str(item.get("logical_operator", "and")).lower()
            if op not in _LOGICAL:
                raise ValueError(f"unknown logical_operator {op!r} (elevAIte knows and, or, not)")
            return Logical(op, tuple(_parse_item(c) for c in item.get("conditions") or []))
        if "left_operand" in item and "operator" in item:
            op = str(item["operator"])
            if op not in _BINARY + _UNARY:
                raise ValueError(f"unknown operator {op!r}")
            return Comparison(str(item["left_operand"]), op, item.get("right_operand"))
    raise ValueError(f"cannot read the condition {item!r}")


def parse_conditions(conditions: Any) -> Comparison | Logical:
    """Read a step's ``conditions`` (string, object or list) as elevAIte's engine does.

    Raises
    ------
    ValueError
        When the condition has a shape or an operator elevAIte's evaluator does not know.
    """
    if isinstance(conditions, list):
        return Logical("and", tuple(_parse_item(c) for c in conditions))
    return _parse_item(conditions)


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def render_condition(tree: Comparison | Logical, operand: Callable[[str], str | None],
                     value: Callable[[str, Any], Any] = lambda left, v: v) -> str:
    """A stepgraph condition (``{{steps.x.output.a}} == 'v' and ...``) for an elevAIte condition tree.

    Parameters
    ----------
    operand:
        Turns an elevAIte path into a ``{{ ... }}`` reference; ``None`` when it cannot.
    value:
        Rewrites a compared value (``denied`` → ``rejected`` for approval decisions).

    Raises
    ------
    ValueError
        For an operand that cannot be resolved or an operator stepgraph has no equivalent of
        (``starts_with``, ``ends_with``, ``regex_match``).
    """
    if isinstance(tree, Logical):
        if not tree.items:
            return "true"
        parts = [render_condition(item, operand, value) for item in tree.items]
        if tree.op == "not":
            return f"not ({parts[0]})"
        return "(" + f" {tree.op} ".join(f"({p})" for p in parts) + ")" if len(parts) > 1 else parts[0]
    ref = operand(tree.left)
    if ref is None:
        raise ValueError(f"the operand {tree.left!r} names no step of the document (expected '<step>.output.<field>')")
    right = value(tree.left, tree.right)
    if tree.op in ("==", "!=", ">", ">=", "<", "<="):
        return f"{ref} {tree.op} {_quote(right)}"
    if tree.op == "contains":
        return f"{ref} contains {_quote(right)}"
    if tree.op == "not_contains":
        return f"not ({ref} contains {_quote(right)})"
    if tree.op in ("in", "not_in"):
        options = right if isinstance(right, (list, tuple)) else [right]
        either = " or ".join(f"{ref} == {_quote(v)}" for v in options) or "false"
        return f"({either})" if tree.op == "in" else f"not ({either})"
    if tree.op == "is_null":
        return f"{ref} == null"
    if tree.op == "is_not_null":
        return f"{ref} != null"
    if tree.op in ("is_empty", "is_not_empty"):
        empty = f"({ref} == null or {ref} == '')"
        return empty if tree.op == "is_empty" else f"not {empty}"
    raise ValueError(f"the operator {tree.op!r} has no stepgraph equivalent (conditions compare with == != < <= > >= in contains)")


# ------------------------------------------------------------------------------ schedules

_DOW_NUMBER = re.compile(r"\d+")


def _eventbridge_dow(field: str) -> str:
    """croniter counts days of the week 0-6 from Sunday (7 is Sunday too); EventBridge 1-7 from Sunday."""
    return _DOW_NUMBER.sub(lambda m: str(int(m.group()) % 7 + 1), field)


def schedule_parameters(schedule: dict) -> tuple[dict, list[str]]:
    """Trigger parameters (``kind: schedule`` with ``cron`` or ``rate``) for an elevAIte ``CronSchedule``.

    Returns
    -------
    tuple[dict, list[str]]
        The parameters, and sentences on what could not be kept (empty when everything was).
        croniter's five fields become EventBridge Scheduler's six (a ``year`` of ``*``, ``?`` in
        day-of-month or day-of-week, days of the week renumbered 1-7); a seconds field must be
        ``0`` (EventBridge's finest unit is the minute); ``interval_seconds`` becomes
        ``rate(N minutes|hours|days)``, rounded up to whole minutes.
    """
    problems: list[str] = []
    params: dict[str, Any] = {"kind": "schedule"}
    if schedule.get("timezone") and schedule.get("timezone") != "UTC":
        params["timezone"] = schedule["timezone"]
    if int(schedule.get("jitter_seconds") or 0):
        problems.append("jitter_seconds has no EventBridge Scheduler equivalent here (flexible time windows are not set); it was dropped")
    mode = str(schedule.get("mode") or ("cron" if schedule.get("cron") else "interval")).lower()
    if mode == "interval":
        seconds = int(schedule.get("interval_seconds") or 0)
        if seconds <= 0:
            problems.append("an interval schedule without a positive interval_seconds; set the trigger's rate by hand")
            params["rate"] = "rate(1 hour)"
            return params, problems
        minutes = -(-seconds // 60)
        if seconds % 60:
            problems.append(f"interval_seconds {seconds} is not whole minutes; EventBridge runs at most once a minute, so it became {minutes} minute(s)")
        if minutes % 1440 == 0:
            params["rate"] = f"rate({minutes // 1440} day{'s' if minutes > 1440 else ''})"
        elif minutes % 60 == 0:
            params["rate"] = f"rate({minutes // 60} hour{'s' if minutes > 60 else ''})"
        else:
            params["rate"] = f"rate({minutes} minute{'s' if minutes > 1 else ''})"
        return params, problems
    fields = str(schedule.get("cron") or "").split()
    if len(fields) == 6:
        seconds_field = fields.pop(0) if schedule.get("seconds_at_beginning") else fields.pop()
        if seconds_field not in ("0", "00"):
            problems.append(f"the cron's seconds field {seconds_field!r} runs more than once a minute; EventBridge's finest unit is the minute, so it runs at second 0")
    if len(fields) != 5:
        problems.append(f"the cron {schedule.get('cron')!r} is not a 5- or 6-field croniter expression; set the trigger's cron by hand")
        params["cron"] = "cron(0 * * * ? *)"
        return params, problems
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
    else:
        problems.append("the cron restricts both day-of-month and day-of-week; EventBridge needs '?' in one, so day-of-month became '?'")
        dom = "?"
    if dow != "?":
        dow = _eventbridge_dow(dow)
    params["cron"] = f"cron({minute} {hour} {dom} {month} {dow} *)"
    return params, problems
