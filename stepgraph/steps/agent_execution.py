"""``agent_execution``: invoke an agent on Amazon Bedrock AgentCore Runtime — SPEC §3, §6."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ErrorCode
from stepgraph_runtime import env

from ..handlers import Bundle, HandlerSpec
from ..model import Step
from ..substitutions import INVOKE_AGENT_FUNCTION, agent_runtime_key, placeholder
from .base import MAX_LAMBDA_SECONDS, Checker, Params, StepKind, is_int, is_str, param

__all__ = ["AgentExecution"]


@dataclass(frozen=True)
class AgentParams(Params):
    agent_id: Any = param(required=True, check=is_str, what="the name of a folder in agents/")
    max_iterations: int = param(10, check=lambda v: is_int(v) and 1 <= v <= 1000, what="an integer from 1 to 1000")
    timeout_seconds: int = param(300, check=lambda v: is_int(v) and 1 <= v <= MAX_LAMBDA_SECONDS,
                                 what=f"a whole number of seconds from 1 to {MAX_LAMBDA_SECONDS}")
    payload: Any = param(None, role="template", check=lambda v: isinstance(v, (Mapping, tuple, str)), what="a template object")
    qualifier: str = param("DEFAULT", check=is_str, what="an AgentCore runtime endpoint name")


class AgentExecution(StepKind):
    """A Task calling ``lambdas/invoke_agent``, which calls ``InvokeAgentRuntime`` and drains the answer.

    Without a ``payload`` the agent receives ``{"input", "steps", "step_id", "max_iterations"}``
    (plus ``item``/``index`` in a loop body). The Task waits the agent's ``timeout_seconds`` plus
    a margin, so the Lambda reports ``TIMEOUT`` itself.
    """

    step_type = "agent_execution"
    position = 1
    params_type = AgentParams
    mermaid_shape = ("(", ")")
    colours = ("#dbeafe", "#2563eb")
    graphviz_shape = {"shape": "box", "style": "rounded,filled"}
    handler = HandlerSpec(
        "invoke_agent", "InvokeAgent", "stepgraph-invoke-agent",
        "Invokes an AgentCore runtime for an agent_execution step and drains its response",
        substitution_key=INVOKE_AGENT_FUNCTION, environment=(env.PAYLOADS_BUCKET,), offloads=True,
        always_deployed=True,
    )

    def check(self, step: Step, c: Checker) -> None:
        agent_id = step.parameters.get("agent_id")
        if c.agents is not None and c.valid("agent_id") and agent_id not in c.agents:
            known = ", ".join(sorted(c.agents)) or "none"
            c.add(f"unknown agent_id '{agent_id}': there is no agents/{agent_id}/ (known agents: {known})", "agent_id")

    def agents_used(self, step: Step) -> tuple[str, ...]:
        return (str(step.parameters.get("agent_id")),)

    def reads_everything(self, step: Step) -> bool:
        return self.params(step).payload is None  # the default payload carries every step's output

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.scope import TASK_TIMEOUT_MARGIN_SECONDS
        from ..expressions import jsonata

        p = self.params(step)
        agent_id = str(p.agent_id)
        r = ctx.reader(step, scope)
        if p.payload is not None:
            payload: Any = ctx.template(p.payload, step, scope)
        else:
            loop_fields = f", \"item\": {r.item()}, \"index\": {r.index()}" if scope.in_loop else ""
            payload = doc.jsonata_string(
                f"{{\"input\": {r.input()}, \"steps\": {ctx.steps_object(step, scope)}, "
                f"\"step_id\": {jsonata(step.step_id)}, \"max_iterations\": {int(p.max_iterations)}{loop_fields}}}"
            )
        arguments = {
            "agent_id": agent_id,
            "agent_runtime_arn": placeholder(agent_runtime_key(agent_id)),
            "qualifier": str(p.qualifier),
            "session_id": doc.jsonata_string(doc.session_id(r)),
            "payload": payload,
            "timeout_seconds": int(p.timeout_seconds),
            **ctx.execution_fields(step),
        }
        task_timeout = step.timeout_seconds or int(p.timeout_seconds) + TASK_TIMEOUT_MARGIN_SECONDS
        state = ctx.lambda_task(step, scope, INVOKE_AGENT_FUNCTION, arguments,
                                default_code=ErrorCode.AGENT_ERROR.value, timeout=task_timeout)
        state["Comment"] = f"agent {agent_id} on AgentCore Runtime"
        return {step.step_id: state}

    def detail(self, step: Step) -> str:
        return f"agent: {step.param('agent_id', '?')}"
