"""Validation of a workflow model (SPEC §3, §4, §7): every problem at once, each with its step.

Rules checked: exactly one trigger, and it is the entry; known step ids in ``next_steps``,
``else_steps``, ``body`` and ``join``; no cycles; every step reachable; sub-graphs do not leak;
at most one next step except for condition, human_approval and parallel; every step type's
required parameters and their types; expressions parse and reference known roots and steps;
agents and tools exist.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable, Collection, Mapping

from .exceptions import ValidationIssue
from .expressions import ExpressionError, Reference, brief_repr, condition_references, template_references
from .graph import Scope, analyze_graph
from .model import BRANCHING_TYPES, ELSE_TYPES, Step, StepType, TriggerKind, Workflow

__all__ = ["validate_workflow", "validate_schedule_expression", "step_references", "utc_timestamp"]

_CRON_FIELDS = 6  # EventBridge Scheduler: minutes hours day-of-month month day-of-week year
_RATE = re.compile(r"^(\d+)\s+(minute|minutes|hour|hours|day|days)$")
#: Characters of one cron field: values, month/day names and the wildcards , - * ? / L W #.
_CRON_FIELD = re.compile(r"^[0-9A-Za-z,\-*?/#]+$")
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_MAX_TASK_SECONDS = 900  # a Lambda invocation lasts at most 15 minutes


def validate_schedule_expression(kind: str, expression: str) -> str | None:
    """Check an EventBridge Scheduler ``cron``/``rate`` expression, with or without its wrapper.

    Returns
    -------
    str | None
        A sentence describing the problem, or ``None`` when the expression is well formed.
        (Source: EventBridge Scheduler "Schedule types": ``cron(minutes hours day-of-month month
        day-of-week year)``, ``rate(value unit)``.)
    """
    body = expression.strip()
    if body.startswith(f"{kind}(") and body.endswith(")"):
        body = body[len(kind) + 1 : -1].strip()
    if kind == "cron":
        fields = body.split()
        if len(fields) != _CRON_FIELDS:
            return f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}: {brief_repr(expression)}"
        bad = [f for f in fields if not _CRON_FIELD.match(f)]
        if bad:
            return f"cron field {brief_repr(bad[0])} has characters a cron field cannot hold: {brief_repr(expression)}"
        day_of_month, day_of_week = fields[2], fields[4]
        if (day_of_month == "?") == (day_of_week == "?"):
            return (f"cron needs '?' in exactly one of day-of-month and day-of-week (EventBridge cannot use both), "
                    f"e.g. 'cron(0 12 * * ? *)', not {brief_repr(expression)}")
        return None
    match = _RATE.match(body)
    if not match or int(match.group(1)) < 1:
        return f"rate must be a positive whole number and a unit, like '5 minutes' or 'rate(1 hour)', not {brief_repr(expression)}"
    return None


class _Checker:
    """Collects issues for one step."""

    def __init__(self, step: Step, issues: list[ValidationIssue]):
        self.step = step
        self.issues = issues
        self.path = f"steps[{step.index}]"

    def add(self, message: str, field: str | None = None) -> None:
        path = f"{self.path}.parameters.{field}" if field else self.path
        self.issues.append(ValidationIssue(message, self.step.step_id, path))

    def known(self, allowed: Collection[str]) -> None:
        unknown = sorted(set(self.step.parameters) - set(allowed))
        if unknown:
            self.add(f"unknown parameters {brief_repr(unknown)} for a {self.step.step_type.value} step; known: {sorted(allowed)}")

    def require(self, name: str, test: Callable[[Any], bool], what: str) -> bool:
        if name not in self.step.parameters:
            self.add(f"missing required parameter '{name}' ({what})", name)
            return False
        return self.optional(name, test, what)

    def optional(self, name: str, test: Callable[[Any], bool], what: str) -> bool:
        if name in self.step.parameters and not test(self.step.parameters[name]):
            self.add(f"parameter '{name}' must be {what}, not {brief_repr(self.step.parameters[name])}", name)
            return False
        return True


def utc_timestamp(text: str) -> str | None:
    """``text`` as an RFC 3339 UTC timestamp (``2030-01-01T07:00:00Z``), or ``None`` when it is not one.

    Step Functions' ``Wait.Timestamp`` takes RFC 3339 with an upper-case ``T`` and a zone; a
    literal is normalised to UTC at compile time so every ASL reader accepts it. A timestamp
    without a zone is refused (its instant would be a guess).
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    utc = moment.astimezone(timezone.utc)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _is_map(v: Any) -> bool:
    return isinstance(v, Mapping)


def _is_expression(v: Any) -> bool:
    return isinstance(v, str) and v.strip().startswith("{{") and v.strip().endswith("}}")


def _check_trigger(c: _Checker) -> None:
    c.known({"kind", "cron", "rate", "timezone", "input", "secret_name", "description"})
    kinds = [k.value for k in TriggerKind]
    if not c.optional("kind", lambda v: v in kinds, f"one of {kinds}"):
        return
    kind = c.step.param("kind", "api")
    if kind == "schedule":
        has = [k for k in ("cron", "rate") if k in c.step.parameters]
        if len(has) != 1:
            c.add("a schedule trigger needs exactly one of 'cron' or 'rate' (an EventBridge Scheduler expression)")
        for key in has:
            value = c.step.param(key)
            problem = validate_schedule_expression(key, value) if isinstance(value, str) else f"{key} must be a string"
            if problem:
                c.add(problem, key)
        c.optional("timezone", _is_str, "an IANA time zone name such as 'Europe/Paris'")
        c.optional("input", _is_map, "an object merged into the execution input")
    else:
        for key in ("cron", "rate", "timezone"):
            if key in c.step.parameters:
                c.add(f"'{key}' only applies to kind 'schedule'", key)
    if kind == "webhook":
        c.optional("secret_name", _is_str, "the name of a Secrets Manager secret holding the HMAC key")
    elif "secret_name" in c.step.parameters:
        c.add("'secret_name' only applies to kind 'webhook'", "secret_name")


def _check_agent(c: _Checker, agents: Collection[str] | None) -> None:
    c.known({"agent_id", "max_iterations", "timeout_seconds", "payload", "qualifier"})
    if c.require("agent_id", _is_str, "the name of a folder in agents/") and agents is not None:
        agent_id = c.step.param("agent_id")
        if agent_id not in agents:
            known = ", ".join(sorted(agents)) or "none"
            c.add(f"unknown agent_id '{agent_id}': there is no agents/{agent_id}/ (known agents: {known})", "agent_id")
    c.optional("max_iterations", lambda v: _is_int(v) and 1 <= v <= 1000, "an integer from 1 to 1000")
    c.optional("timeout_seconds", lambda v: _is_int(v) and 1 <= v <= _MAX_TASK_SECONDS, f"a whole number of seconds from 1 to {_MAX_TASK_SECONDS}")
    c.optional("payload", lambda v: isinstance(v, (Mapping, tuple, str)), "a template object")
    c.optional("qualifier", _is_str, "an AgentCore runtime endpoint name")


def _check_condition(c: _Checker) -> None:
    c.known({"condition"})
    c.require("condition", _is_str, "an expression such as \"{{input.priority}} == 'high'\"")
    if not c.step.next_steps:
        c.issues.append(ValidationIssue("a condition needs next_steps (the step to run when it is true)", c.step.step_id, f"{c.path}.next_steps"))


def _check_loop(c: _Checker) -> None:
    c.known({"items", "body", "max_concurrency", "mode", "tolerated_failure_percentage", "tolerated_failure_count", "item_batch_size"})
    c.require("items", _is_expression, "an expression in {{ }} giving an array, e.g. '{{ input.orders }}'")
    c.require("body", _is_str, "the step id where the per-item sub-graph starts")
    c.optional("max_concurrency", lambda v: _is_int(v) and 0 <= v <= 10_000, "an integer from 0 (no limit) to 10000")
    c.optional("mode", lambda v: v in ("inline", "distributed"), "'inline' or 'distributed'")
    if c.step.param("mode", "inline") == "inline":
        for key in ("tolerated_failure_percentage", "tolerated_failure_count", "item_batch_size"):
            if key in c.step.parameters:
                c.add(f"'{key}' only applies to mode 'distributed'", key)
    c.optional("tolerated_failure_percentage", lambda v: _is_num(v) and 0 <= v <= 100, "a number from 0 to 100")
    c.optional("tolerated_failure_count", lambda v: _is_int(v) and v >= 0, "a non-negative integer")


def _check_parallel(c: _Checker) -> None:
    c.known({"join"})
    c.optional("join", _is_str, "the step id where the branches meet")
    if not c.step.next_steps:
        c.issues.append(ValidationIssue("a parallel step needs next_steps (one entry step per branch)", c.step.step_id, f"{c.path}.next_steps"))
    if c.step.param("join") in c.step.next_steps:
        c.add("join cannot also be a branch entry", "join")


def _check_approval(c: _Checker) -> None:
    c.known({"approvers", "message", "timeout_hours"})
    c.require("approvers", lambda v: isinstance(v, tuple) and v and all(_is_str(x) for x in v), "a non-empty list of approver names or e-mail addresses")
    c.optional("message", lambda v: isinstance(v, str), "a template string")
    c.optional("timeout_hours", lambda v: _is_num(v) and 0 < v <= 8760, "a number of hours above 0 and at most 8760 (one year)")


def _check_tool(c: _Checker, tools: Collection[str] | None) -> None:
    c.known({"tool", "arguments"})
    if c.require("tool", _is_str, "the name of a registered tool") and tools is not None:
        tool = c.step.param("tool")
        if tool not in tools:
            c.add(f"unknown tool '{tool}' (registered tools: {', '.join(sorted(tools)) or 'none'})", "tool")
    c.optional("arguments", _is_map, "a template object")


def _check_transform(c: _Checker) -> None:
    c.known({"output", "jsonata"})
    has = [k for k in ("output", "jsonata") if k in c.step.parameters]
    if len(has) != 1:
        c.add("a data_transform needs exactly one of 'output' (a template) or 'jsonata' (a JSONata expression)")
    if "jsonata" in c.step.parameters and c.optional("jsonata", _is_str, "a JSONata expression string"):
        problem = _jsonata_problem(c.step.param("jsonata"))
        if problem:
            c.add(f"malformed JSONata: {problem}", "jsonata")


def _jsonata_problem(expression: str) -> str | None:
    try:
        import jsonata  # jsonata-python: parse only, nothing is evaluated here
    except ImportError:  # pragma: no cover - a core dependency
        return None
    if "{%" in expression or "%}" in expression:
        return "write the expression without {% %}; the compiler adds them"
    try:
        jsonata.Jsonata(expression)
    except Exception as exc:  # the parser raises its own JException
        return str(exc)
    return None


def _check_api(c: _Checker) -> None:
    c.known({"url", "method", "headers", "body", "timeout_seconds", "allowed_hosts"})
    c.require("url", lambda v: isinstance(v, str) and (v.startswith(("https://", "http://", "{{"))), "an http(s) URL template")
    c.optional("method", lambda v: isinstance(v, str) and v.upper() in _HTTP_METHODS, f"one of {list(_HTTP_METHODS)}")
    c.optional("headers", _is_map, "an object of header templates")
    c.optional("timeout_seconds", lambda v: _is_int(v) and 1 <= v <= _MAX_TASK_SECONDS, f"a whole number of seconds from 1 to {_MAX_TASK_SECONDS}")
    c.optional("allowed_hosts", lambda v: isinstance(v, tuple) and all(_is_str(x) for x in v), "a list of host names that may resolve to private addresses")


def _check_delay(c: _Checker) -> None:
    c.known({"seconds", "until"})
    has = [k for k in ("seconds", "until") if k in c.step.parameters]
    if len(has) != 1:
        c.add("a delay needs exactly one of 'seconds' (a number or an expression) or 'until' (an ISO-8601 timestamp expression)")
    c.optional("seconds", lambda v: (_is_num(v) and 0 <= v <= 31_536_000) or _is_expression(v), "a number of seconds from 0 to 31536000 or an expression in {{ }}")
    c.optional("until", lambda v: isinstance(v, str) and ("{{" in v or utc_timestamp(v) is not None),
               "an ISO-8601 timestamp with a time zone (e.g. 2030-01-01T08:00:00Z) or an expression in {{ }}")


_TEMPLATED: dict[StepType, tuple[str, ...]] = {
    StepType.AGENT_EXECUTION: ("payload",),
    StepType.HUMAN_APPROVAL: ("message",),
    StepType.TOOL_CALL: ("arguments",),
    StepType.DATA_TRANSFORM: ("output",),
    StepType.API_CALL: ("url", "headers", "body"),
    StepType.DELAY: ("until",),
}
#: Parameters the compiler reads as ONE expression (``compile_expression``), not as a template:
#: ``"{{input.a}} {{input.b}}"`` is a fine template but not an expression.
_EXPRESSIONS: dict[StepType, tuple[str, ...]] = {
    StepType.LOOP: ("items",),
    StepType.DELAY: ("seconds",),
}


def _references(step: Step, issues: list[ValidationIssue] | None) -> list[tuple[str, Reference]]:
    """``(parameter, reference)`` for every expression of a step; malformed ones go to ``issues``."""
    path = f"steps[{step.index}].parameters"
    found: list[tuple[str, Reference]] = []

    def problem(message: str) -> None:
        if issues is not None:
            issues.append(ValidationIssue(message, step.step_id, path_of))

    for name in _TEMPLATED.get(step.step_type, ()):
        if name not in step.parameters:
            continue
        path_of = f"{path}.{name}"
        try:
            found += [(name, r) for r in template_references(step.parameters[name])]
        except ExpressionError as exc:
            problem(f"malformed expression: {exc}")
    for name in _EXPRESSIONS.get(step.step_type, ()):
        if not isinstance(step.param(name), str):
            continue  # a number of seconds; the parameter checks report other types
        path_of = f"{path}.{name}"
        try:
            found += [(name, r) for r in condition_references(step.param(name))]
        except ExpressionError as exc:
            problem(f"malformed expression: {exc}")
    if step.step_type is StepType.CONDITION and isinstance(step.param("condition"), str):
        path_of = f"{path}.condition"
        try:
            found += [("condition", r) for r in condition_references(step.param("condition"))]
        except ExpressionError as exc:
            problem(f"malformed condition: {exc}")
    return found


def step_references(step: Step) -> list[Reference]:
    """Every reference in a step's expressions and templates (malformed ones are skipped)."""
    return [ref for _, ref in _references(step, None)]


def _check_references(step: Step, scope: Scope | None, known_ids: Collection[str], issues: list[ValidationIssue]) -> None:
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
        elif ref.root == "execution" and (not ref.path or ref.path[0] not in ("id", "name", "start_time") or len(ref.path) > 1):
            issues.append(ValidationIssue(f"'{ref}': execution has id, name and start_time", step.step_id, where))
        elif ref.root == "workflow" and list(ref.path) != ["name"]:
            issues.append(ValidationIssue(f"'{ref}': the only workflow field is workflow.name", step.step_id, where))
        elif ref.root in ("item", "index") and not (scope is not None and scope.in_loop):
            issues.append(ValidationIssue(f"'{ref}' exists only inside a loop body", step.step_id, where))


def validate_workflow(
    workflow: Workflow,
    *,
    agents: Collection[str] | None = None,
    tools: Collection[str] | None = None,
    unreadable_step_ids: Collection[str] = (),
) -> list[ValidationIssue]:
    """Return every problem of a workflow (an empty list when it is valid).

    Parameters
    ----------
    workflow:
        The model, as read by :func:`stepgraph.loader.parse_workflow`.
    agents, tools:
        Known agent ids and tool names; ``None`` skips those checks.
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

    triggers = workflow.steps_of_type(StepType.TRIGGER)
    if not triggers:
        issues.append(ValidationIssue("a workflow has exactly one trigger step, found 0", None, "steps"))
    for extra in triggers[1:]:
        issues.append(ValidationIssue(
            f"a workflow has exactly one trigger step, found {len(triggers)}; '{triggers[0].step_id}' is the entry",
            extra.step_id, f"steps[{extra.index}].step_type"))

    targets: set[str] = set()
    for step in workflow.steps:
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
        if step.else_steps and step.step_type not in ELSE_TYPES:
            issues.append(ValidationIssue("else_steps only apply to condition and human_approval steps", step.step_id, f"{path}.else_steps"))
        if step.step_type not in BRANCHING_TYPES and len(step.next_steps) > 1:
            issues.append(ValidationIssue(
                f"{_article(step.step_type.value)} {step.step_type.value} step has at most one next step (found {len(step.next_steps)}); use a parallel step to fan out",
                step.step_id, f"{path}.next_steps"))
        if step.step_type in ELSE_TYPES:
            for key, ids in (("next_steps", step.next_steps), ("else_steps", step.else_steps)):
                if len(ids) > 1:
                    issues.append(ValidationIssue(f"{key} of a {step.step_type.value} step names one step (found {len(ids)}); use a parallel step to fan out", step.step_id, f"{path}.{key}"))
        for key in ("body", "join"):
            ref = step.param(key)
            if key == "body" and step.step_type is not StepType.LOOP or key == "join" and step.step_type is not StepType.PARALLEL:
                continue
            if isinstance(ref, str):
                targets.add(ref)
                if ref not in known_ids:
                    issues.append(ValidationIssue(f"{key} names unknown step '{ref}'", step.step_id, f"{path}.parameters.{key}"))
        if step.retry is not None and step.step_type in (StepType.TRIGGER, StepType.CONDITION, StepType.DATA_TRANSFORM, StepType.DELAY):
            issues.append(ValidationIssue(f"retry does not apply to a {step.step_type.value} step (it calls nothing that can fail transiently)", step.step_id, f"{path}.retry"))
        if step.timeout_seconds is not None and step.step_type in (StepType.TRIGGER, StepType.CONDITION, StepType.DATA_TRANSFORM, StepType.DELAY):
            issues.append(ValidationIssue(f"timeout_seconds does not apply to a {step.step_type.value} step", step.step_id, f"{path}.timeout_seconds"))

    for trigger in triggers:
        if trigger.step_id in targets:
            issues.append(ValidationIssue("the trigger is the entry step; no step may lead back to it", trigger.step_id, f"steps[{trigger.index}]"))

    checks: dict[StepType, Callable[[_Checker], None]] = {
        StepType.TRIGGER: _check_trigger,
        StepType.AGENT_EXECUTION: lambda c: _check_agent(c, agents),
        StepType.CONDITION: _check_condition,
        StepType.LOOP: _check_loop,
        StepType.PARALLEL: _check_parallel,
        StepType.HUMAN_APPROVAL: _check_approval,
        StepType.TOOL_CALL: lambda c: _check_tool(c, tools),
        StepType.DATA_TRANSFORM: _check_transform,
        StepType.API_CALL: _check_api,
        StepType.DELAY: _check_delay,
    }
    graph = analyze_graph(workflow)
    issues.extend(graph.issues)
    for step in workflow.steps:
        if step.step_id in unreadable_step_ids:
            continue  # its parameters could not be read; the loader reported why
        checks[step.step_type](_Checker(step, issues))
        _check_references(step, graph.scope_of.get(step.step_id), known_ids, issues)
    return issues
