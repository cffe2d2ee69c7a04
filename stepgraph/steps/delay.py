"""``delay``: wait a number of seconds or until a timestamp, no Lambda — SPEC §3."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..model import Step
from .base import Checker, Params, StepKind, is_expression, is_num, param

__all__ = ["Delay", "utc_timestamp"]

MAX_WAIT_SECONDS = 31_536_000  # one year, the longest a Standard execution lasts


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


@dataclass(frozen=True)
class DelayParams(Params):
    seconds: Any = param(None, role="expression",
                         check=lambda v: (is_num(v) and 0 <= v <= MAX_WAIT_SECONDS) or is_expression(v),
                         what=f"a number of seconds from 0 to {MAX_WAIT_SECONDS} or an expression in {{{{ }}}}")
    until: Any = param(None, role="template",
                       check=lambda v: isinstance(v, str) and ("{{" in v or utc_timestamp(v) is not None),
                       what="an ISO-8601 timestamp with a time zone (e.g. 2030-01-01T08:00:00Z) or an expression in {{ }}")


class Delay(StepKind):
    """A Wait state; a missing or malformed value waits 0 s (a Wait state cannot Catch the error)."""

    step_type = "delay"
    position = 9
    params_type = DelayParams
    does_work = False
    mermaid_shape = ("{{", "}}")
    colours = ("#f5f5f4", "#78716c")
    graphviz_shape = {"shape": "hexagon", "style": "filled", "margin": "0.05,0.02"}

    def check(self, step: Step, c: Checker) -> None:
        has = [k for k in ("seconds", "until") if k in step.parameters]
        if len(has) != 1:
            c.add("a delay needs exactly one of 'seconds' (a number or an expression) or 'until' (an ISO-8601 timestamp expression)")

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.asl import StateType
        from ..expressions import compile_template

        p = self.params(step)
        state: dict[str, Any] = {"Type": StateType.WAIT.value}
        if p.seconds is not None:
            if isinstance(p.seconds, (int, float)):
                state["Seconds"] = int(math.ceil(p.seconds))
            else:
                expr = ctx.expression(p.seconds, step, scope)
                state["Seconds"] = doc.jsonata_string(
                    f"($s := {expr}; $n := $type($s) = 'number' ? $s : "
                    "(($type($s) = 'string' and $contains($s, /^\\s*[0-9]+(\\.[0-9]+)?\\s*$/)) ? $number($trim($s)) : 0); "
                    "$n > 0 ? $ceil($n) : 0)"
                )
        elif "{{" in p.until:
            expr = compile_template(p.until, workflow_name=ctx.workflow.name, reader=ctx.reader(step, scope))
            state["Timestamp"] = doc.jsonata_string(
                f"($t := {expr}; ($type($t) = 'string' and "
                "$contains($t, /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/)) "
                "? $fromMillis($toMillis($t)) : '1970-01-01T00:00:00Z')"  # normalised to UTC ...Z
            )
        else:
            state["Timestamp"] = utc_timestamp(p.until) or p.until
        nxt = step.next_steps[0] if step.next_steps else None
        return {step.step_id: ctx.finish(state, step, scope, nxt, None)}

    def detail(self, step: Step) -> str:
        if step.param("until") is not None:
            return f"until {step.param('until')}"
        seconds = step.param("seconds", "?")
        return f"wait {seconds} s" if isinstance(seconds, (int, float)) else f"wait {seconds}"
