"""``tool_call``: run a tool the app registers in ``tools/`` — SPEC §3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode
from stepgraph_runtime import env

from ..handlers import Bundle, HandlerSpec
from ..model import Step
from ..substitutions import TOOL_FUNCTION
from .base import Checker, Params, StepKind, is_map, is_str, param

__all__ = ["ToolCall"]


@dataclass(frozen=True)
class ToolParams(Params):
    tool: Any = param(required=True, check=is_str, what="the name of a registered tool")
    arguments: Any = param(None, role="template", check=is_map, what="a template object")


class ToolCall(StepKind):
    """A Task calling ``lambdas/tool_call``; a tool that raises fails the step with ``TOOL_ERROR``."""

    step_type = "tool_call"
    position = 6
    params_type = ToolParams
    colours = ("#ffedd5", "#ea580c")
    handler = HandlerSpec(
        "tool_call", "ToolCall", "stepgraph-tool-call", "Runs a registered Python tool for a tool_call step",
        substitution_key=TOOL_FUNCTION, environment=(env.PAYLOADS_BUCKET,),
        bundles=(Bundle.RUNTIME, Bundle.TOOLS), offloads=True,
    )

    def check(self, step: Step, c: Checker) -> None:
        tool = step.parameters.get("tool")
        if c.tools is not None and c.valid("tool") and tool not in c.tools:
            c.add(f"unknown tool '{tool}' (registered tools: {', '.join(sorted(c.tools)) or 'none'})", "tool")

    def tools_used(self, step: Step) -> tuple[str, ...]:
        return (str(step.parameters.get("tool")),)

    def compile(self, step, scope, ctx):
        p = self.params(step)
        arguments = {
            "tool": str(p.tool),
            "arguments": ctx.template(p.arguments if p.arguments is not None else {}, step, scope),
            **ctx.execution_fields(step),
        }
        state = ctx.lambda_task(step, scope, TOOL_FUNCTION, arguments, default_code=ErrorCode.TOOL_ERROR.value,
                                timeout=step.timeout_seconds)
        state["Comment"] = f"tool {p.tool}"
        return {step.step_id: state}

    def detail(self, step: Step) -> str:
        return f"tool: {step.param('tool', '?')}"
