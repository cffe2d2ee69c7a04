"""``data_transform``: reshape data with a template or a JSONata expression, no Lambda — SPEC §3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import Step, thaw
from .base import Checker, Params, StepKind, is_str, param

__all__ = ["DataTransform"]


def _jsonata_problem(expression: str) -> str | None:
    """Why a JSONata expression does not parse, or ``None`` (jsonata-python parses, nothing runs)."""
    import jsonata

    if "{%" in expression or "%}" in expression:
        return "write the expression without {% %}; the compiler adds them"
    try:
        jsonata.Jsonata(expression)
    except Exception as exc:  # the parser raises its own JException
        return str(exc)
    return None


@dataclass(frozen=True)
class TransformParams(Params):
    output: Any = param(None, role="template", what="a template")
    jsonata: Any = param(None, what="a JSONata expression string")


class DataTransform(StepKind):
    """A Pass state whose output is the rendered template or the JSONata expression's value.

    A ``jsonata`` expression sees ``$input``, ``$trigger``, ``$steps``, ``$last`` (and ``$item``,
    ``$index`` in a loop body).
    """

    step_type = "data_transform"
    position = 7
    params_type = TransformParams
    does_work = False
    mermaid_shape = ("[/", "/]")
    colours = ("#f3f4f6", "#4b5563")
    graphviz_shape = {"shape": "polygon", "skew": "0.25", "style": "filled", "margin": "0.05,0.02"}

    def check(self, step: Step, c: Checker) -> None:
        has = [k for k in ("output", "jsonata") if k in step.parameters]
        if len(has) != 1:
            c.add("a data_transform needs exactly one of 'output' (a template) or 'jsonata' (a JSONata expression)")
        if "jsonata" in step.parameters and c.optional("jsonata", is_str, TransformParams.specs()["jsonata"].what):
            problem = _jsonata_problem(step.parameters["jsonata"])
            if problem:
                c.add(f"malformed JSONata: {problem}", "jsonata")

    def reads_everything(self, step: Step) -> bool:
        return "jsonata" in step.parameters

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.asl import StateType

        p = self.params(step)
        nxt = step.next_steps[0] if step.next_steps else None
        state = {"Type": StateType.PASS.value}
        if p.jsonata is not None:
            r = ctx.reader(step, scope)
            bindings = (f"$input := {r.input()}; $trigger := {r.trigger()}; "
                        f"$steps := {ctx.steps_object(step, scope)}; $last := {r.last()}; ")
            if scope.in_loop:
                bindings += f"$item := {r.item()}; $index := {r.index()}; "
            return {step.step_id: ctx.finish(state, step, scope, nxt, doc.output_value(f"({bindings}({p.jsonata}))"))}
        # a template renders as a JSON tree whose templated strings are {% %}: a fixed output is plain JSON
        return {step.step_id: ctx.finish(state, step, scope, nxt, None, output=ctx.template(p.output, step, scope))}

    def output_fields(self, step: Step):
        output = step.parameters.get("output")
        if "jsonata" in step.parameters or not hasattr(output, "keys"):
            return None
        return {str(k): (frozenset({v}) if isinstance(v, (str, int, float, bool)) and "{{" not in str(v) else None)
                for k, v in output.items()}

    def detail(self, step: Step) -> str:
        if step.param("jsonata") is not None:
            return f"jsonata: {step.param('jsonata')}"
        output = step.param("output")
        if hasattr(output, "keys"):
            return "output: {" + ", ".join(str(k) for k in output.keys()) + "}"
        return f"output: {output}" if output is not None else ""
