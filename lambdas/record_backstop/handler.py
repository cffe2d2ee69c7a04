"""Lambda that writes the result record of an execution that ended without writing its own.

Every compiled state machine ends by recording its result, success and failure alike. A few
endings skip that tail: an execution stopped from outside (``StopExecution``, ``ABORTED``), one
that exceeded its own time-out (``TIMED_OUT``), and the errors ``States.ALL`` cannot catch
(``States.DataLimitExceeded``, ``States.Runtime``). An EventBridge rule on "Step Functions
Execution Status Change" sends those statuses here; when the record is missing, this writes it
(same key, same body shape) and announces it on the results topic, so *every* execution ends
with exactly one result record.

The same event also ends the execution's AgentCore sessions (SPEC §6): for every ending,
``SUCCEEDED`` included, each runtime the workflow (or one of its subflows) uses gets
``StopRuntimeSession`` for the execution's session id (the deterministic rule of
:func:`stepgraph_runtime.sessions.execution_runtime_session_id`), so no session stays billed until
its idle timeout. A nested execution (its input carries ``parent.executionArn``) leaves them to
its parent, which shares the session.

Environment
-----------
RESULTS_BUCKET_NAME, RESULTS_TOPIC_ARN:
    Where records go.
STATE_MACHINE_NAME_PREFIX:
    ``<prefix>-``: a state machine named ``<prefix>-<workflow>`` runs workflow ``<workflow>``.
STEPGRAPH_SESSION_RUNTIMES:
    ``{"<workflow>": [["<runtime ARN>", "<qualifier>"], ...]}`` (optional).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from stepgraph_runtime import agentcore, env
from stepgraph_runtime.records import STATUS_FAILED, build_result_record, execution_error, result_key
from stepgraph_runtime.sessions import execution_runtime_session_id

__all__ = ("record_for", "backstop", "stop_sessions", "lambda_handler")

#: Every ending of an execution (the rule also sends ``SUCCEEDED`` when a workflow uses agents).
_ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

logger = Logger(service=env.service_name())

_clients: dict[str, Any] = {}


def _client(name: str) -> Any:
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):  # EventBridge sends epoch milliseconds
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc).isoformat()
    return str(value)


def _last_step(execution_arn: str) -> tuple[str | None, str | None]:
    """The last state entered that is a step (helper states have a space in their names), and the
    ``error_code`` its Task sent (the step kind's own code), when it ran a Lambda."""
    try:
        events = _client("stepfunctions").get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=100)["events"]
    except ClientError:
        return None, None
    code = None
    for event in sorted(events, key=lambda e: e.get("id", 0), reverse=True):  # newest first, whatever the order served
        scheduled = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails")
        if scheduled and code is None:
            try:
                payload = json.loads(scheduled.get("parameters") or scheduled.get("input") or "{}").get("Payload")
            except (TypeError, ValueError, AttributeError):
                payload = None
            code = payload.get("error_code") if isinstance(payload, dict) else None
        name = (event.get("stateEnteredEventDetails") or {}).get("name")
        if name and " " not in name:
            return name, code
    return None, None


def record_for(detail: dict[str, Any], workflow_name: str) -> dict[str, Any]:
    """The result record (SPEC §5) of an execution from its status-change event ``detail``.

    Built by :func:`stepgraph_runtime.records.build_result_record`; the error is
    :func:`stepgraph_runtime.records.execution_error`: ``ABORTED`` becomes ``CANCELLED`` (stopped
    from outside, not one of the six step error codes), ``TIMED_OUT`` becomes ``TIMEOUT``, a
    ``FAILED`` error outside the six codes becomes ``AGENT_ERROR`` with the original error name in
    the message. The step is the last step the history entered; ``sessionId`` follows
    :func:`stepgraph_runtime.records.record_session_id`.
    """
    raw_input = detail.get("input")
    try:
        execution_input = json.loads(raw_input) if isinstance(raw_input, str) else (raw_input or {})
    except ValueError:
        execution_input = {}
    name = detail.get("name") or detail["executionArn"].rsplit(":", 1)[-1]
    step, code = _last_step(detail["executionArn"])
    error = execution_error(str(detail.get("status")), detail.get("error"), detail.get("cause"), step=step,
                            default_code=code)
    return build_result_record(
        execution_arn=detail["executionArn"], execution_name=name, workflow_name=workflow_name,
        execution_input=execution_input, status=STATUS_FAILED, error=error,
        started_at=_iso(detail.get("startDate")),
        completed_at=_iso(detail.get("stopDate")) or datetime.now(timezone.utc).isoformat(),
    )


def _workflow_of(detail: dict[str, Any]) -> str:
    prefix = os.environ.get(env.STATE_MACHINE_NAME_PREFIX, "")
    machine = detail["stateMachineArn"].rsplit(":", 1)[-1]
    return machine[len(prefix):] if prefix and machine.startswith(prefix) else machine


def _execution_input(detail: dict[str, Any]) -> Any:
    """The execution input: from the event, or ``DescribeExecution`` when the event left it out (too large)."""
    raw = detail.get("input")
    if raw is None and (detail.get("inputDetails") or {}).get("included") is False:
        raw = _client("stepfunctions").describe_execution(executionArn=detail["executionArn"]).get("input")
    try:
        return json.loads(raw) if isinstance(raw, str) else (raw or {})
    except ValueError:
        return {}


def stop_sessions(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """Stop the AgentCore sessions of an execution that ended; return ``(runtime ARN, session id)`` stopped.

    Nothing for an execution still running, for a workflow without agents, or for a nested
    execution (input ``parent.executionArn``: its parent stops the shared session when it ends).
    A session that already ended is skipped; any other error is raised (the rule retries).
    """
    if detail.get("status") not in _ENDED:
        return []
    runtimes = json.loads(os.environ.get(env.SESSION_RUNTIMES) or "{}").get(_workflow_of(detail), [])
    if not runtimes:
        return []
    execution_input = _execution_input(detail)
    parent = execution_input.get("parent") if isinstance(execution_input, dict) else None
    if isinstance(parent, dict) and parent.get("executionArn"):
        return []
    name = detail.get("name") or detail["executionArn"].rsplit(":", 1)[-1]
    session = execution_runtime_session_id(execution_input, name)
    stopped = []
    for arn, qualifier in runtimes:
        client = agentcore.get_client(agentcore.region_of(arn), 30)
        if agentcore.stop_session(client, arn=arn, session_id=session, qualifier=qualifier):
            stopped.append((arn, session))
    logger.info("runtime sessions stopped", extra={"execution_arn": detail["executionArn"], "session": session,
                                                   "stopped": len(stopped), "runtimes": len(runtimes)})
    return stopped


def backstop(detail: dict[str, Any]) -> dict[str, Any] | None:
    """Write and announce the record when it is missing; return it, or ``None`` when it existed."""
    if detail.get("status") not in ("FAILED", "TIMED_OUT", "ABORTED"):
        return None
    workflow = _workflow_of(detail)
    bucket = os.environ[env.RESULTS_BUCKET_NAME]
    name = detail.get("name") or detail["executionArn"].rsplit(":", 1)[-1]
    key = result_key(workflow, name)
    s3 = _client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return None  # the state machine recorded it itself
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    record = record_for(detail, workflow)
    body = json.dumps(record)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json")
    _client("sns").publish(
        TopicArn=os.environ[env.RESULTS_TOPIC_ARN], Message=body,
        MessageAttributes={"workflowName": {"DataType": "String", "StringValue": workflow},
                           "status": {"DataType": "String", "StringValue": "failed"}},
    )
    logger.warning("result record written by the backstop", extra={"execution_arn": record["executionArn"], "code": record["error"]["code"]})
    return record


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge entry point ("Step Functions Execution Status Change"): the record, then the sessions."""
    detail = event.get("detail") or {}
    record = backstop(detail)
    stopped = stop_sessions(detail)
    return {"written": record is not None, "sessions_stopped": len(stopped)}
