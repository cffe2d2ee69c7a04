"""Lambda that invokes an agent on Amazon Bedrock AgentCore Runtime and drains its response.

The call, the client (at most one request per attempt), the decoder and the session rule live in
:mod:`stepgraph_runtime.agentcore`, shared with ``stepgraph invoke agent``; this handler checks
the event, budgets the time, logs, and moves large values through S3
(:mod:`stepgraph_runtime.offload`).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from stepgraph_runtime import agentcore, async_agent, deltas, env, offload, trace
from stepgraph_runtime.agentcore import decode_response, runtime_session_id
from stepgraph_runtime.errors import AGENT_ERROR, RATE_LIMIT, TIMEOUT, VALIDATION_ERROR, StepError

__all__ = (
    "AGENT_ERROR",
    "InvokeAgentError",
    "RATE_LIMIT",
    "TIMEOUT",
    "VALIDATION_ERROR",
    "decode_response",
    "get_client",
    "invoke_agent",
    "lambda_handler",
    "runtime_session_id",
)

logger = Logger(service=env.service_name())
# No Powertools Tracer (the X-Ray SDK costs ~150 ms of every cold start): active tracing records
# the function's segment, and the trace goes on into the agent as a traceparent (docs/design.md).

#: Longest read timeout any client gets, in seconds (a Lambda runs at most 900 s).
MAX_READ_TIMEOUT = agentcore.MAX_READ_TIMEOUT
#: Timeout used when the event carries no ``timeout_seconds``.
DEFAULT_TIMEOUT_SECONDS = 300
#: Seconds kept back from the Lambda's remaining time so ``TIMEOUT`` is raised before the sandbox is killed.
LAMBDA_SAFETY_MARGIN_SECONDS = 3.0

_REQUIRED_FIELDS = ("agent_id", "agent_runtime_arn", "session_id", "payload")
#: The clients cached by :func:`stepgraph_runtime.agentcore.get_client` (cleared by tests).
_clients = agentcore._clients

#: The errors this Lambda raises share one base class (the six codes: :mod:`stepgraph_runtime.errors`).
InvokeAgentError = StepError
#: Readable aliases (STYLE.md names errors with an ``Error`` suffix).
RateLimitError = RATE_LIMIT
AgentError = AGENT_ERROR
AgentTimeoutError = TIMEOUT
EventValidationError = VALIDATION_ERROR


def get_client(region: str | None, read_timeout: int = MAX_READ_TIMEOUT) -> Any:
    """The cached ``bedrock-agentcore`` client (:func:`stepgraph_runtime.agentcore.get_client`)."""
    return agentcore.get_client(region, read_timeout)


def _validated(event: Any) -> dict[str, Any]:
    """Check the event's fields, collecting every problem before raising once."""
    if not isinstance(event, dict):
        raise VALIDATION_ERROR(f"event must be a JSON object, got {type(event).__name__}")
    issues = [f"missing field {name!r}" for name in _REQUIRED_FIELDS if name not in event]
    for name in ("agent_id", "agent_runtime_arn", "session_id"):
        if name in event and (not isinstance(event[name], str) or not event[name]):
            issues.append(f"{name!r} must be a non-empty string")
    arn = event.get("agent_runtime_arn")
    if isinstance(arn, str) and arn and not agentcore.RUNTIME_ARN.match(arn):
        issues.append(f"'agent_runtime_arn' is not a bedrock-agentcore runtime ARN: {arn!r}")
    qualifier = event.get("qualifier", agentcore.RUNTIME_ENDPOINT)
    if qualifier is not None and (not isinstance(qualifier, str) or not qualifier):
        issues.append("'qualifier' must be a non-empty string")
    timeout = event.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        issues.append(f"'timeout_seconds' must be a positive number, got {timeout!r}")
    issues += _async_issues(event)
    user_id = event.get("user_id")
    if user_id is not None and not (isinstance(user_id, str) and 1 <= len(user_id) <= 1024):
        issues.append(f"'user_id' must be a string of 1 to 1024 characters (runtimeUserId), got {user_id!r}")
    if issues:
        raise VALIDATION_ERROR(
            f"invalid invoke_agent event ({len(issues)} problem{'s' if len(issues) > 1 else ''}): "
            + "; ".join(issues),
            agent_id=event.get("agent_id") if isinstance(event.get("agent_id"), str) else None,
            step_id=event.get("step_id"),
        )
    return event


def _async_issues(event: dict[str, Any]) -> list[str]:
    """Problems of the async fields (``mode``, ``task_token``, ``heartbeat_seconds``)."""
    mode = event.get("mode", "sync")
    if mode not in ("sync", "async"):
        return [f"'mode' must be 'sync' or 'async', got {mode!r}"]
    if mode != "async":
        return []
    issues = []
    if not isinstance(event.get("task_token"), str) or not event.get("task_token"):
        issues.append("an async step needs 'task_token' (the Step Functions task token)")
    heartbeat = event.get("heartbeat_seconds")
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat <= 0:
        issues.append(f"'heartbeat_seconds' must be a positive whole number, got {heartbeat!r}")
    return issues


def _identity(event: dict[str, Any]) -> dict[str, Any]:
    """``runtimeUserId`` (the execution's ``user_id``) and ``traceParent`` of the request (:mod:`stepgraph_runtime.trace`)."""
    return {"user_id": event.get("user_id") or None,
            "traceparent": trace.execution_traceparent(event.get("execution_arn"))}


def invoke_agent(event: dict[str, Any], *, remaining_time_ms: int | None = None) -> Any:
    """Invoke an AgentCore runtime with the event's payload and return the agent's output.

    The request is sent once: a read timeout is ``TIMEOUT`` and is never re-sent by botocore
    (:func:`stepgraph_runtime.agentcore.retry_only_unsent`); the step's ``retry`` decides.

    Parameters
    ----------
    event : dict
        ``{"agent_id", "agent_runtime_arn", "session_id", "payload"}`` (required) and
        ``"qualifier"`` (default ``"DEFAULT"``), ``"timeout_seconds"`` (default 300),
        ``"step_id"``, ``"execution_name"`` (optional, logged), ``"user_id"`` (sent as
        ``runtimeUserId``), ``"execution_arn"`` (the ``traceParent`` when there is no X-Ray
        header), and for async steps ``"mode": "async"``, ``"task_token"``,
        ``"heartbeat_seconds"``: the token travels in the payload's ``stepgraph`` field and the
        agent's immediate answer must accept it.
    remaining_time_ms : int, optional
        The Lambda's remaining time; the deadline is cut to it minus
        ``LAMBDA_SAFETY_MARGIN_SECONDS`` so ``TIMEOUT`` is raised before the sandbox is killed.

    Returns
    -------
    Any
        The decoded output (see ``decode_response``); for an async step, the agent's acceptance
        (``{"accepted": true, "task_id"}``).

    Raises
    ------
    VALIDATION_ERROR
        When the event is missing fields or holds invalid values.
    RATE_LIMIT
        When AgentCore throttles the call.
    AGENT_ERROR
        When the runtime or the container fails, access is denied, or the body is malformed or cut short.
    TIMEOUT
        When connecting or reading exceeds the timeout.

    Examples
    --------
    >>> invoke_agent({"agent_id": "support_agent", "agent_runtime_arn": arn,
    ...               "session_id": "chat-42", "payload": {"message": "where is my order?"}})  # doctest: +SKIP
    {'response': '...', 'intent': 'order_status', ...}
    """
    event = _validated(event)
    agent_id: str = event["agent_id"]
    arn: str = event["agent_runtime_arn"]
    step_id = event.get("step_id")
    timeout = float(event.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
    session = runtime_session_id(event["session_id"])
    budget = timeout
    if remaining_time_ms is not None:
        budget = max(1.0, min(budget, remaining_time_ms / 1000.0 - LAMBDA_SAFETY_MARGIN_SECONDS))
    started = time.monotonic()
    is_async = event.get("mode") == "async"
    payload = event["payload"]
    if is_async:  # the agent gets the token and answers at once (stepgraph_runtime.async_agent)
        payload = async_agent.with_envelope(payload, task_token=event["task_token"],
                                            heartbeat_seconds=event["heartbeat_seconds"],
                                            workflow_name=event.get("workflow_name"),
                                            execution_name=event.get("execution_name"), step_id=step_id)
    body = agentcore.encode_payload(payload, label=agent_id, step_id=step_id)
    keys = {"agent_id": agent_id, "step_id": step_id, "runtime_session_id": session,
            "execution_name": event.get("execution_name")}
    qualifier = event.get("qualifier") or agentcore.RUNTIME_ENDPOINT
    logger.info(
        "invoking agent runtime",
        extra={**keys, "qualifier": qualifier, "payload_bytes": len(body), "timeout_seconds": budget},
    )
    client = get_client(agentcore.region_of(arn), agentcore.read_timeout_for(budget))
    try:
        publisher = deltas.publisher_for(event)  # text chunks for the HTTP API's live streams
        output, content_type, read = agentcore.invoke_runtime(
            client, arn=arn, session_id=session, payload=body, label=agent_id, qualifier=qualifier,
            timeout_seconds=budget, deadline=started + budget, step_id=step_id,
            on_text=publisher.publish if publisher else None, **_identity(event))
        if is_async:
            output = async_agent.check_acceptance(output, agent_id=agent_id, step_id=step_id)
    except StepError as exc:
        logger.warning("agent invocation failed", extra={**keys, "error_code": exc.code, "aws_code": exc.aws_code})
        raise
    logger.info(
        "agent answered",
        extra={**keys, "content_type": content_type, "bytes_read": read,
               "duration_ms": int((time.monotonic() - started) * 1000)},
    )
    return output


def _remaining_ms(context: Any) -> int | None:
    """Return the Lambda context's remaining time in ms, or ``None`` without a real context."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() if callable(getter) else None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """Lambda entry point: see ``invoke_agent``; errors surface under their code as ``errorType``.

    Offloaded values in the payload are fetched first — only this execution's own, verified
    (:func:`stepgraph_runtime.offload.resolve`) — and an output too large for Step Functions goes
    to S3 by reference.
    """
    workflow = str(event.get("workflow_name") or "unknown") if isinstance(event, dict) else "unknown"
    execution = str(event.get("execution_name") or "unknown") if isinstance(event, dict) else "unknown"
    if isinstance(event, dict) and "payload" in event:
        event = {**event, "payload": offload.resolve(event["payload"], workflow=workflow, execution=execution,
                                                     step=event.get("step_id"))}
    output = invoke_agent(event, remaining_time_ms=_remaining_ms(context))
    if event.get("mode") == "async":
        return output  # the acceptance; the step's output arrives with SendTaskSuccess
    return offload.offload(output, workflow=workflow, execution=execution, step=str(event.get("step_id") or "agent"))
