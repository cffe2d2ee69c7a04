"""``parallel``: run branches at once and meet at ``join`` — SPEC §3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode
from ..exceptions import ValidationIssue
from ..model import Step
from .base import Checker, Params, StepKind, SubScope, is_str, param

__all__ = ["Parallel"]


@dataclass(frozen=True)
class ParallelParams(Params):
    join: Any = param(None, check=is_str, step_ref=True, what="the step id where the branches meet")


class Parallel(StepKind):
    """A Parallel state with one branch per ``next_steps`` entry; output ``{branch_entry_id: result}``."""

    step_type = "parallel"
    position = 4
    params_type = ParallelParams
    max_next_steps = None
    mermaid_shape = ("[[", "]]")
    colours = ("#cffafe", "#0891b2")
    graphviz_shape = {"shape": "box", "style": "filled", "peripheries": "2"}

    def check(self, step: Step, c: Checker) -> None:
        if not step.next_steps:
            c.issues.append(ValidationIssue("a parallel step needs next_steps (one entry step per branch)",
                                            step.step_id, f"{c.path}.next_steps"))
        if step.parameters.get("join") in step.next_steps:
            c.add("join cannot also be a branch entry", "join")

    def _join(self, step: Step) -> str | None:
        join = step.parameters.get("join")
        return join if isinstance(join, str) else None

    def sub_scopes(self, step: Step) -> list[SubScope]:
        join = self._join(step)
        return [SubScope("branch", entry, join) for entry in step.next_steps if entry != join]

    def successors(self, step: Step) -> list[str]:
        join = self._join(step)
        return [join] if join else []

    def edges(self, step: Step) -> list[str]:
        join = self._join(step)
        return list(step.next_steps) + ([join] if join else [])

    def compile(self, step, scope, ctx):
        from ..compiler.asl import StateType
        from ..expressions import jsonata

        join = self._join(step)
        entries = [s.entry for s in self.sub_scopes(step)]
        branches = [ctx.compile_sub_scope(ctx.child(step.step_id, "branch", entry)) for entry in entries]
        members = ", ".join(f"{{{jsonata(e)}: $states.result[{i}]}}" for i, e in enumerate(entries))
        state: dict[str, Any] = {"Type": StateType.PARALLEL.value, "Comment": f"branches {', '.join(entries)}", "Branches": branches}
        if step.timeout_seconds:
            state["TimeoutSeconds"] = step.timeout_seconds
        if step.retry is not None and step.retry.max_attempts > 1:
            state["Retry"] = ctx.retry(step, lambda_task=False)
        state["Catch"] = ctx.catch(step, scope, ErrorCode.AGENT_ERROR.value)
        return {step.step_id: ctx.finish(state, step, scope, join, f"$merge([{members}])")}

    def detail(self, step: Step) -> str:
        join = step.param("join")
        return f"join: {join}" if join else "no join"

    def draw(self, step: Step, pen) -> None:
        join = self._join(step)
        pen.into_sub_scopes("branch", "branch")
        if join is not None:
            pen.join_without_branches(join)
            return
        pen.after_sub_scopes(None)  # a join-less parallel ends its scope
