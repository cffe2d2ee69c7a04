"""``trigger``: the entry step; how an execution starts (chat, api, schedule, webhook) — SPEC §3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..expressions import brief_repr
from ..model import Step, thaw
from .base import Checker, Params, StepKind, is_map, is_str, param

__all__ = ["Trigger", "TriggerKind", "ScheduleDeployment", "WebhookDeployment", "validate_schedule_expression"]

_CRON_FIELDS = 6  # EventBridge Scheduler: minutes hours day-of-month month day-of-week year
_RATE = re.compile(r"^(\d+)\s+(minute|minutes|hour|hours|day|days)$")
#: Characters of one cron field: values, month/day names and the wildcards , - * ? / L W #.
_CRON_FIELD = re.compile(r"^[0-9A-Za-z,\-*?/#]+$")


class TriggerKind(str, Enum):
    """How an execution starts (SPEC §3, ``trigger`` step)."""

    CHAT = "chat"
    API = "api"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"


_KINDS = [k.value for k in TriggerKind]


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


@dataclass(frozen=True)
class ScheduleDeployment:
    """A ``schedule`` trigger as the stack deploys it: an EventBridge Scheduler schedule.

    ``expression_kind`` is ``cron`` or ``rate``; ``expression`` as written (with or without
    its wrapper); ``timezone`` an IANA name or ``None`` (UTC).
    """

    expression_kind: str
    expression: str
    timezone: str | None = None


@dataclass(frozen=True)
class WebhookDeployment:
    """A ``webhook`` trigger as the stack deploys it: an HMAC-checked function URL.

    ``secret_name`` names the Secrets Manager secret holding the key, or ``None`` for one the
    stack generates.
    """

    secret_name: str | None = None


@dataclass(frozen=True)
class TriggerParams(Params):
    kind: str = param("api", what=f"one of {_KINDS}", check=lambda v: v in _KINDS)
    cron: Any = param(None, what="an EventBridge Scheduler cron expression")
    rate: Any = param(None, what="an EventBridge Scheduler rate expression")
    timezone: Any = param(None, what="an IANA time zone name such as 'Europe/Paris'")
    input: Any = param(None, what="an object merged into the execution input")
    secret_name: Any = param(None, what="the name of a Secrets Manager secret holding the HMAC key")
    description: Any = param(None, what="free text")


class Trigger(StepKind):
    """The entry state: a Pass that assigns the execution input and the trigger; its output is the trigger."""

    step_type = "trigger"
    position = 0
    params_type = TriggerParams
    is_entry = True
    does_work = False
    mermaid_shape = ("([", "])")
    colours = ("#d1fae5", "#059669")
    graphviz_shape = {"shape": "box", "style": "rounded,filled,bold"}

    def check(self, step: Step, c: Checker) -> None:
        if "kind" in step.parameters and not c.valid("kind"):
            return
        kind = self.params(step).kind
        if kind == TriggerKind.SCHEDULE.value:
            has = [k for k in ("cron", "rate") if k in step.parameters]
            if len(has) != 1:
                c.add("a schedule trigger needs exactly one of 'cron' or 'rate' (an EventBridge Scheduler expression)")
            for key in has:
                value = step.parameters[key]
                problem = validate_schedule_expression(key, value) if isinstance(value, str) else f"{key} must be a string"
                if problem:
                    c.add(problem, key)
            c.optional("timezone", is_str, TriggerParams.specs()["timezone"].what)
            c.optional("input", is_map, TriggerParams.specs()["input"].what)
        else:
            for key in ("cron", "rate", "timezone"):
                if key in step.parameters:
                    c.add(f"'{key}' only applies to kind 'schedule'", key)
        if kind == TriggerKind.WEBHOOK.value:
            c.optional("secret_name", is_str, TriggerParams.specs()["secret_name"].what)
        elif "secret_name" in step.parameters:
            c.add("'secret_name' only applies to kind 'webhook'", "secret_name")

    def deployment(self, step: Step) -> ScheduleDeployment | WebhookDeployment | None:
        p = self.params(step)
        if p.kind == TriggerKind.SCHEDULE.value:
            expression_kind = "cron" if p.cron is not None else "rate"
            return ScheduleDeployment(expression_kind, str(getattr(p, expression_kind)), p.timezone)
        if p.kind == TriggerKind.WEBHOOK.value:
            return WebhookDeployment(p.secret_name)
        return None

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.asl import HelperState, StateType

        p = self.params(step)
        nxt = step.next_steps[0] if step.next_steps else HelperState.STORE_RESULT.value
        trigger = doc.jsonata_string(doc.initial_trigger())
        assign = {doc.INPUT: doc.jsonata_string(doc.initial_input(thaw(p.input) if p.input else None)),
                  doc.TRIGGER: trigger, **ctx.scope_entry_assign(scope, ctx.reader(step, scope))}
        return {step.step_id: {"Type": StateType.PASS.value, "Comment": f"trigger ({p.kind})",
                               "Assign": assign, "Output": trigger, "Next": nxt}}

    def detail(self, step: Step) -> str:
        p = self.params(step)
        for key in ("cron", "rate"):
            if getattr(p, key) is not None:
                return f"{p.kind}: {getattr(p, key)}"
        return str(p.kind)
