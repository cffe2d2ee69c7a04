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

__all__ = ["AgentExecution", "AgentParams", "AsyncAgentDeployment", "MAX_ASYNC_SECONDS", "MODES"]

#: Longest async agent step, in seconds: an AgentCore async job lasts at most 8 hours
#: (AgentCore Runtime quotas; FIELD-NOTES, second round).
MAX_ASYNC_SECONDS = 8 * 3600
#: ``mode`` values: one synchronous request from the invoker, or an AgentCore async task that
#: reports back with the Step Functions task token.
MODES = ("sync", "async")


@dataclass(frozen=True)
class AgentParams(Params):
    agent_id: Any = param(required=True, check=is_str, what="the name of a folder in agents/")
    max_iterations: int = param(10, check=lambda v: is_int(v) and 1 <= v <= 1000, what="an integer from 1 to 1000")
    timeout_seconds: int = param(300, check=lambda v: is_int(v) and 1 <= v <= MAX_ASYNC_SECONDS,
                                 what=f"a whole number of seconds from 1 to {MAX_ASYNC_SECONDS} "
                                 f"(at most {MAX_LAMBDA_SECONDS} in sync mode)")
    payload: Any = param(None, role="template", check=lambda v: isinstance(v, (Mapping, tuple, str)), what="a template object")
    qualifier: str = param("DEFAULT", check=is_str, what="an AgentCore runtime endpoint name")
    #: ``None``: ``async`` when ``timeout_seconds`` is over 900 (what one Lambda can wait), else ``sync``.
    mode: Any = param(None, check=lambda v: v in MODES,
                      what=f"'sync' or 'async' (default: 'async' when timeout_seconds is over {MAX_LAMBDA_SECONDS}, else 'sync')")
    heartbeat_seconds: int = param(300, check=lambda v: is_int(v) and 1 <= v <= MAX_ASYNC_SECONDS,
                                   what=f"a whole number of seconds from 1 to {MAX_ASYNC_SECONDS}")

    @property
    def is_async(self) -> bool:
        """True when the step runs as an AgentCore async task (``mode``, or a timeout over 900 s)."""
        if self.mode is not None:
            return self.mode == "async"
        return is_int(self.timeout_seconds) and self.timeout_seconds > MAX_LAMBDA_SECONDS


@dataclass(frozen=True)
class AsyncAgentDeployment:
    """An agent this workflow calls asynchronously: its runtime's role may send this state machine's task results.

    The stack grants that role ``states:SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat``
    on the workflow's state machine, and nothing on any other.
    """

    agent_id: str


class AgentExecution(StepKind):
    """A Task calling ``lambdas/invoke_agent``, which calls ``InvokeAgentRuntime`` and drains the answer.

    Without a ``payload`` the agent receives ``{"input", "steps", "step_id", "max_iterations"}``
    (plus ``item``/``index`` in a loop body). The Task waits the agent's ``timeout_seconds`` plus
    a margin, so the Lambda reports ``TIMEOUT`` itself.

    Modes: ``sync`` (default up to 900 s) is one ``InvokeAgentRuntime`` request whose answer is
    the output. ``async`` (``"mode": "async"``, or any ``timeout_seconds`` over 900, up to 8 h)
    is a ``lambda:invoke.waitForTaskToken`` Task with ``TimeoutSeconds`` = the timeout and
    ``HeartbeatSeconds`` = ``heartbeat_seconds`` (300): the invoker sends the task token inside
    the payload (``"stepgraph": {"task_token", "heartbeat_seconds"}``) and returns once the agent
    accepted; the agent works as an AgentCore async task and ends the step itself
    (:mod:`stepgraph_runtime.async_agent`). The output is what the agent sent with ``SendTaskSuccess``.
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
        if not all(c.valid(n) or n not in step.parameters for n in ("mode", "timeout_seconds", "heartbeat_seconds")):
            return
        p = self.params(step)
        if p.mode == "sync" and p.timeout_seconds > MAX_LAMBDA_SECONDS:
            c.add(f"a sync agent step waits at most {MAX_LAMBDA_SECONDS} s (one Lambda invocation), not "
                  f"{p.timeout_seconds}; use \"mode\": \"async\" (up to {MAX_ASYNC_SECONDS} s)", "timeout_seconds")
        if p.is_async and p.heartbeat_seconds >= p.timeout_seconds:
            c.add(f"heartbeat_seconds ({p.heartbeat_seconds}) must be less than timeout_seconds ({p.timeout_seconds}) "
                  "in async mode (Step Functions requires HeartbeatSeconds < TimeoutSeconds)", "heartbeat_seconds")
        if not p.is_async and "heartbeat_seconds" in step.parameters:
            c.add("heartbeat_seconds applies to async agent steps only (\"mode\": \"async\")", "heartbeat_seconds")

    def agents_used(self, step: Step) -> tuple[str, ...]:
        return (str(step.parameters.get("agent_id")),)

    def deployment(self, step: Step) -> AsyncAgentDeployment | None:
        p = self.params(step)
        return AsyncAgentDeployment(str(p.agent_id)) if p.is_async else None

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
            "user_id": doc.jsonata_string(doc.user_id(r)),
            "execution_arn": doc.jsonata_string("$states.context.Execution.Id"),
            "payload": payload,
            "timeout_seconds": int(p.timeout_seconds),
            **ctx.execution_fields(step),
        }
        if p.is_async:
            # The invoker hands the token to the agent and returns once it accepted; the agent
            # ends the task with SendTaskSuccess/SendTaskFailure and heartbeats meanwhile.
            arguments.update(mode="async", task_token=ctx.task_token(), heartbeat_seconds=int(p.heartbeat_seconds))
            state = ctx.lambda_task(step, scope, INVOKE_AGENT_FUNCTION, arguments,
                                    default_code=ErrorCode.AGENT_ERROR.value,
                                    timeout=step.timeout_seconds or int(p.timeout_seconds),
                                    heartbeat=int(p.heartbeat_seconds), callback=True)
            state["Comment"] = f"agent {agent_id} on AgentCore Runtime, as an async task (task token)"
            return {step.step_id: state}
        task_timeout = step.timeout_seconds or int(p.timeout_seconds) + TASK_TIMEOUT_MARGIN_SECONDS
        state = ctx.lambda_task(step, scope, INVOKE_AGENT_FUNCTION, arguments,
                                default_code=ErrorCode.AGENT_ERROR.value, timeout=task_timeout)
        state["Comment"] = f"agent {agent_id} on AgentCore Runtime"
        return {step.step_id: state}

    def detail(self, step: Step) -> str:
        mode = " (async)" if self.params_type.read(step.parameters).is_async else ""
        return f"agent: {step.param('agent_id', '?')}{mode}"
