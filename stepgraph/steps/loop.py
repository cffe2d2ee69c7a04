"""``loop``: run a sub-graph once per item, in a Map or Distributed Map state — SPEC §3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode
from ..model import Step
from .base import Checker, Params, StepKind, SubScope, is_expression, is_int, is_num, is_str, param

__all__ = ["Loop"]

_DISTRIBUTED_ONLY = ("tolerated_failure_percentage", "tolerated_failure_count", "item_batch_size")


@dataclass(frozen=True)
class LoopParams(Params):
    items: Any = param(required=True, role="expression", check=is_expression,
                       what="an expression in {{ }} giving an array, e.g. '{{ input.orders }}'")
    body: Any = param(required=True, check=is_str, step_ref=True, what="the step id where the per-item sub-graph starts")
    max_concurrency: int = param(10, check=lambda v: is_int(v) and 0 <= v <= 10_000, what="an integer from 0 (no limit) to 10000")
    mode: str = param("inline", check=lambda v: v in ("inline", "distributed"), what="'inline' or 'distributed'")
    tolerated_failure_percentage: Any = param(None, check=lambda v: is_num(v) and 0 <= v <= 100, what="a number from 0 to 100")
    tolerated_failure_count: Any = param(None, check=lambda v: is_int(v) and v >= 0, what="a non-negative integer")
    item_batch_size: Any = param(None, what="a positive integer")


class Loop(StepKind):
    """A Map state (Distributed Map for ``mode: distributed``); its output is the body results in item order.

    Each item gets its value and index; a distributed body also gets the outer data it reads
    (:meth:`stepgraph.compiler.scope.ScopeCompiler.item_selector`).
    """

    step_type = "loop"
    position = 3
    params_type = LoopParams
    mermaid_shape = ("[[", "]]")
    colours = ("#ede9fe", "#7c3aed")
    graphviz_shape = {"shape": "box", "style": "filled", "peripheries": "2"}

    def check(self, step: Step, c: Checker) -> None:
        if step.parameters.get("mode", "inline") == "inline":
            for key in _DISTRIBUTED_ONLY:
                if key in step.parameters:
                    c.add(f"'{key}' only applies to mode 'distributed'", key)

    def sub_scopes(self, step: Step) -> list[SubScope]:
        body = step.parameters.get("body")
        return [SubScope("body", body)] if isinstance(body, str) else []

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.asl import StateType

        p = self.params(step)
        items = ctx.expression(p.items, step, scope)
        body_scope = ctx.child(step.step_id, "body", str(p.body))
        processor = ctx.compile_sub_scope(body_scope)
        distributed = p.mode == "distributed"
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} if distributed else {"Mode": "INLINE"}
        state: dict[str, Any] = {
            "Type": StateType.MAP.value,
            "Comment": f"loop over {p.items}",
            "Items": doc.jsonata_string(f"($i := {items}; $type($i) = 'array' ? $i : ($type($i) = 'null' ? [] : [$i]))"),
            "ItemSelector": ctx.item_selector(body_scope, step, scope),
            "ItemProcessor": processor,
            "MaxConcurrency": int(p.max_concurrency),
        }
        if distributed:
            if p.tolerated_failure_percentage is not None:
                # a JSON number with a fraction: ASL parsers (moto's among them) read it as a NUMBER
                state["ToleratedFailurePercentage"] = float(p.tolerated_failure_percentage)
            if p.tolerated_failure_count is not None:
                state["ToleratedFailureCount"] = p.tolerated_failure_count
        if step.timeout_seconds:
            state["TimeoutSeconds"] = step.timeout_seconds
        if step.retry is not None and step.retry.max_attempts > 1:
            state["Retry"] = ctx.retry(step, lambda_task=False)
        state["Catch"] = ctx.catch(step, scope, ErrorCode.AGENT_ERROR.value)
        nxt = step.next_steps[0] if step.next_steps else None
        return {step.step_id: ctx.finish(state, step, scope, nxt, "$states.result")}

    def detail(self, step: Step) -> str:
        mode = " (distributed)" if step.param("mode") == "distributed" else ""
        return f"each of {step.param('items', '?')}{mode}"

    def draw(self, step: Step, pen) -> None:
        pen.into_sub_scopes("each item", "each")
        pen.after_sub_scopes(step.next_steps[0] if step.next_steps else None)
