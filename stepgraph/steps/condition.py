"""``condition``: a Choice between ``next_steps`` (true) and ``else_steps`` (false) — SPEC §3, §4."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..exceptions import ValidationIssue
from ..model import Step
from .base import Checker, Params, StepKind, is_str, param

__all__ = ["Condition"]


@dataclass(frozen=True)
class ConditionParams(Params):
    condition: Any = param(required=True, role="predicate", check=is_str,
                           what="an expression such as \"{{input.priority}} == 'high'\"")


class Condition(StepKind):
    """A Choice state, no Lambda; its output is its input, unchanged."""

    step_type = "condition"
    position = 2
    params_type = ConditionParams
    takes_else = True
    does_work = False
    next_label = "true"
    else_label = "false"
    mermaid_shape = ("{", "}")
    colours = ("#fef3c7", "#d97706")
    graphviz_shape = {"shape": "diamond", "style": "filled", "margin": "0.02,0.02"}

    def check(self, step: Step, c: Checker) -> None:
        if not step.next_steps:
            c.issues.append(ValidationIssue("a condition needs next_steps (the step to run when it is true)",
                                            step.step_id, f"{c.path}.next_steps"))

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.asl import StateType

        extra: dict[str, Any] = {}
        condition = ctx.condition(self.params(step).condition, step, scope)
        true_target = ctx.choice_target(step, scope, step.next_steps, "true", extra)
        false_target = ctx.choice_target(step, scope, step.else_steps, "false", extra)
        # SPEC §3: a condition's output is its input, unchanged (readable as steps.<id>.output).
        # In JSONata, a Choice rule carries its own Assign and Output; the state's serve Default.
        outcome = ctx.finish({}, step, scope, None, None)
        outcome.pop("Next", None)
        outcome.pop("End", None)
        rule = {"Condition": doc.jsonata_string(condition), "Next": true_target, **outcome}
        state = {"Type": StateType.CHOICE.value, "Comment": f"condition: {self.params(step).condition}",
                 "Choices": [rule], "Default": false_target, **outcome}
        return {step.step_id: state, **extra}

    def detail(self, step: Step) -> str:
        return f"if {step.param('condition', '?')}"

    def draw(self, step: Step, pen) -> None:
        pen.link(step.next_steps[0] if step.next_steps else None, "true", "true")
        pen.link(step.else_steps[0] if step.else_steps else None, "false", "false")
