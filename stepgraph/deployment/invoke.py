"""Invoking a deployed app's workflows (SPEC §5) and agents (SPEC §6).

* :func:`invoke_workflow` starts a state machine, follows it to its end and returns its result
  record (SPEC §5);
* :func:`invoke_agent_runtime` calls one agent's AgentCore runtime with the call and decoder
  ``lambdas/invoke_agent`` uses (:mod:`stepgraph_runtime.agentcore`, SPEC §6).

Records made here (when an execution wrote none) follow :mod:`stepgraph_runtime.records`, like
``lambdas/record_backstop``.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import datetime, timezone
from types import ModuleType
from typing import Any, Callable

from stepgraph_runtime import agentcore
from stepgraph_runtime.errors import StepError
from stepgraph_runtime.records import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    build_result_record,
    execution_error,
    record_session_id,
    result_key,
)

from .errors import (
    AgentInvocationError,
    AwsCallError,
    DeploymentError,
    ExecutionWaitTimeoutError,
    _aws,
    _client,
    _error_code,
)
from .outputs import RUNTIME_ENDPOINT, Deployment, _agent_id_of

#: Step Functions' execution statuses → stepgraph statuses (SPEC §7).
_STATUSES = {
    "RUNNING": "running",
    "PENDING_REDRIVE": "running",
    "SUCCEEDED": "completed",
    "FAILED": "failed",
    "ABORTED": "cancelled",
    "TIMED_OUT": "timeout",
}
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})


# --------------------------------------------------------------------------- workflows


def execution_status(sfn_status: str) -> str:
    """A Step Functions execution status as a stepgraph status (SPEC §7).

    Examples
    --------
    >>> execution_status("ABORTED")
    'cancelled'
    """
    return _STATUSES.get(sfn_status, sfn_status.lower())


def _execution_name() -> str:
    return f"cli-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _synthesized_record(workflow_name: str, description: dict[str, Any], execution_input: Any, uri: str,
                        reason: str) -> dict[str, Any]:
    """A result record made from DescribeExecution when the execution wrote none."""
    status = description.get("status", "")
    output = description.get("output")
    if status == "SUCCEEDED" and output:
        try:
            record = json.loads(output)
        except ValueError:
            record = None
        if isinstance(record, dict) and "status" in record and "executionArn" in record:
            return {**record, "synthesized": True, "note": f"no result record at {uri} ({reason}); "
                    "this record is the execution's output, read with DescribeExecution"}
    error = None
    if status != "SUCCEEDED":
        # The same mapping as lambdas/record_backstop, so a record looks alike whoever made it.
        error = execution_error(status, description.get("error"), description.get("cause"))
        error["message"] = (f"{error['message']} (no result record at {uri}: {reason}; "
                            "this record was made by stepgraph from DescribeExecution)")
    record = build_result_record(
        execution_arn=description.get("executionArn"), execution_name=description.get("name", ""),
        workflow_name=workflow_name, execution_input=execution_input,
        status=STATUS_COMPLETED if status == "SUCCEEDED" else STATUS_FAILED, error=error,
        started_at=_iso(description.get("startDate")), completed_at=_iso(description.get("stopDate")),
    )
    return {**record, "executionStatus": execution_status(status), "synthesized": True}


def invoke_workflow(deployment: Deployment, workflow_name: str, execution_input: Any, *, name: str | None = None,
                    stepfunctions: Any = None, s3: Any = None, poll_seconds: float = 1.0,
                    timeout_seconds: float | None = None,
                    on_status: Callable[[str, dict[str, Any]], None] | None = None,
                    record_wait_seconds: float = 10.0) -> dict[str, Any]:
    """Start a deployed workflow, follow it to its end and return its result record (SPEC §5).

    Parameters
    ----------
    deployment:
        From :func:`load_deployment`.
    workflow_name:
        The workflow's name (not the state machine's).
    execution_input:
        The execution input (any JSON value; usually the seed's ``{"trigger", "session_id", ...}``).
    name:
        The execution name; default ``cli-<UTC yyyymmddThhmmss>-<8 hex digits>``.
    stepfunctions, s3:
        boto3 clients; default ones for ``deployment.region``.
    poll_seconds:
        Longest pause between two ``DescribeExecution`` calls: the first pauses are shorter
        (0.25 s, doubling up to ``poll_seconds``) so short executions return quickly. Default ``1.0``.
    timeout_seconds:
        Stop waiting after this many seconds (the execution keeps running). Default: wait until it ends.
    on_status:
        Called as ``on_status(status, description)`` each time the status changes (the first
        time included); ``status`` is a stepgraph status (``running``, ``completed``, ``failed``,
        ``cancelled``, ``timeout``), ``description`` the ``DescribeExecution`` answer.
    record_wait_seconds:
        After an ending the state machine cannot record itself (``ABORTED``, ``TIMED_OUT``, an
        uncatchable ``FAILED``), ``lambdas/record_backstop`` writes the record a few seconds later
        (EventBridge delivery): wait this long for it before making one. Default ``10.0``.

    Returns
    -------
    dict
        The result record read from ``s3://<bucket>/results/<workflow>/<execution>.json``. When
        there is none (the execution was stopped or timed out before recording, and no backstop
        record came in time), a record made from ``DescribeExecution`` with ``status: failed``,
        ``error.code`` as the backstop gives it (``CANCELLED`` for ``ABORTED``, ``TIMEOUT`` for
        ``TIMED_OUT``, the error when it is one of the six codes, else ``AGENT_ERROR``),
        ``executionStatus`` (the stepgraph status) and ``synthesized: true``; its
        ``error.message`` says it was made from ``DescribeExecution``.

    Raises
    ------
    UnknownWorkflowError
        When the workflow is not deployed.
    ExecutionWaitTimeoutError
        When ``timeout_seconds`` passed first.
    AwsCallError, CredentialsError
        When an AWS call fails.

    Examples
    --------
    >>> record = invoke_workflow(load_deployment(), "customer-support",
    ...                          {"trigger": {"kind": "chat", "current_message": "Where is ORD-1003?"}})  # doctest: +SKIP
    >>> record["status"]  # doctest: +SKIP
    'completed'
    """
    arn = deployment.state_machine_arn(workflow_name)
    stepfunctions = _client("stepfunctions", deployment.region, stepfunctions)
    s3 = _client("s3", deployment.region, s3)
    execution_name = name or _execution_name()
    from botocore.exceptions import ClientError

    with _aws(f"starting workflow {workflow_name}"):
        try:
            started = stepfunctions.start_execution(stateMachineArn=arn, name=execution_name,
                                                    input=json.dumps(execution_input, ensure_ascii=False))
        except ClientError as exc:
            if _error_code(exc) == "ExecutionAlreadyExists":
                raise AwsCallError(f"workflow {workflow_name} already has an execution named {execution_name!r}: "
                                   "choose another --name", operation="StartExecution", aws_code="ExecutionAlreadyExists") from exc
            raise
    execution_arn = started["executionArn"]
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    last = None
    pause = min(0.25, poll_seconds)
    while True:
        with _aws(f"following execution {execution_arn}"):
            description = stepfunctions.describe_execution(executionArn=execution_arn)
        status = description["status"]
        if status != last:
            last = status
            if on_status is not None:
                on_status(execution_status(status), description)
        if status in _TERMINAL:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise ExecutionWaitTimeoutError(
                f"execution {execution_arn} still {status} after {timeout_seconds:g} s; it keeps running: "
                f"follow it in the Step Functions console, or read s3://{deployment.results_bucket}/"
                f"{result_key(workflow_name, execution_name)} once it ends", execution_arn=execution_arn)
        time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(poll_seconds, pause * 2)

    key = result_key(workflow_name, description.get("name", execution_name))
    uri = f"s3://{deployment.results_bucket}/{key}"
    # A succeeded execution recorded before ending; other endings may get the backstop's record late.
    record_deadline = time.monotonic() + (0.0 if status == "SUCCEEDED" else record_wait_seconds)
    pause = min(0.25, poll_seconds)
    while True:
        with _aws(f"reading the result record {uri}"):
            try:
                body = s3.get_object(Bucket=deployment.results_bucket, Key=key)["Body"].read()
                break
            except ClientError as exc:
                code = _error_code(exc)
                # Without s3:ListBucket, S3 answers a missing key with 403: missing only for endings
                # that may well lack a record.
                missing = code in ("NoSuchKey", "404") or (code in ("AccessDenied", "403") and status in ("ABORTED", "TIMED_OUT"))
                if not missing:
                    raise
        if time.monotonic() >= record_deadline:
            return _synthesized_record(workflow_name, description, execution_input, uri, f"the execution ended {status}")
        time.sleep(max(0.0, min(pause, record_deadline - time.monotonic())))
        pause = min(poll_seconds, pause * 2)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise DeploymentError(f"{uri} is not JSON ({exc})") from exc


# --------------------------------------------------------------------------- agents


def _invoker_module() -> ModuleType:
    """The module holding the AgentCore call, decoder and session rule (:mod:`stepgraph_runtime.agentcore`).

    It is installed with stepgraph, so ``stepgraph invoke agent`` works from any folder.
    """
    return agentcore


def new_session_id() -> str:
    """A fresh runtime session id: ``stepgraph-cli-<uuid4>`` (50 characters, within AgentCore's 33–256)."""
    return f"stepgraph-cli-{uuid.uuid4()}"


def _region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def invoke_agent_runtime(deployment_or_arn: Deployment | str, payload: Any, *, agent_id: str | None = None,
                         session_id: str | None = None, qualifier: str = RUNTIME_ENDPOINT, client: Any = None) -> Any:
    """Invoke an agent's AgentCore runtime and return its decoded answer (SPEC §6).

    The call is the seed's ``invoke_agent_runtime(agentRuntimeArn, runtimeSessionId, payload,
    qualifier)``, sent once (no botocore retry once the request may have reached the agent), and
    the answer is decoded by the decoder ``lambdas/invoke_agent`` uses
    (:mod:`stepgraph_runtime.agentcore`, so a workflow step and this call see the same output): ``application/json``
    gives the JSON document, ``text/event-stream`` gives ``{"response": <joined text>, "events": [...]}``.

    Parameters
    ----------
    deployment_or_arn:
        A runtime ARN, or a :class:`Deployment` together with ``agent_id``.
    payload:
        Any JSON value (sent as UTF-8 JSON), or ``bytes`` sent as they are.
    agent_id:
        The agent, when ``deployment_or_arn`` is a deployment.
    session_id:
        A session id; it goes through the same rule as a workflow's ``session_id`` (kept when it is
        33–256 safe characters, else made so deterministically), so ``--session-id chat-42`` reaches
        the session a workflow run with ``session_id: chat-42`` used. Default :func:`new_session_id`.
    qualifier:
        The runtime endpoint. Default ``"DEFAULT"``.
    client:
        A boto3 ``bedrock-agentcore`` client; default :func:`stepgraph_runtime.agentcore.get_client`
        for the ARN's region (read timeout 900 s, at most one call per request).

    Returns
    -------
    Any
        The agent's output.

    Raises
    ------
    UnknownAgentError
        When the agent is not deployed.
    AgentInvocationError
        With ``code`` ``RATE_LIMIT`` (throttled), ``AGENT_ERROR`` (runtime or container failure,
        access denied, malformed answer) or ``VALIDATION_ERROR`` (bad payload or session id).
    CredentialsError, RegionError
        When AWS credentials or the region are missing.

    Examples
    --------
    >>> invoke_agent_runtime(load_deployment(), {"prompt": "hi"}, agent_id="support_agent")  # doctest: +SKIP
    {'response': '...'}
    """
    if isinstance(deployment_or_arn, Deployment):
        if not agent_id:
            raise ValueError("agent_id is required when invoking through a Deployment")
        arn = deployment_or_arn.runtime_arn(agent_id)
    else:
        arn = deployment_or_arn
    label = agent_id or _agent_id_of(arn) or arn
    try:
        session = agentcore.runtime_session_id(session_id or new_session_id())
        body = agentcore.encode_payload(payload, label=label)
    except StepError as exc:
        raise AgentInvocationError(str(exc), code=exc.code) from exc
    if client is None:
        with _aws(f"invoking agent {label!r}"):
            client = agentcore.get_client(_region_of_arn(arn) or agentcore.region_of(arn))
    try:
        with _aws(f"invoking agent {label!r}"):
            output, _, _ = agentcore.invoke_runtime(client, arn=arn, session_id=session, payload=body, label=label,
                                                    qualifier=qualifier)
    except StepError as exc:
        message = str(exc)
        if exc.code == "RATE_LIMIT":
            message += "; try again later"
        raise AgentInvocationError(message, code=exc.code, aws_code=exc.aws_code) from exc
    return output
