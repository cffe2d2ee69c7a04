"""Calling ``InvokeAgentRuntime``: the client (at most one call per attempt), the call, and its errors.

Shared by ``lambdas/invoke_agent`` (a workflow's agent step) and ``stepgraph invoke agent``, so
both send the same request and see the same decoded answer. boto3/botocore are imported in
the functions that need them.

**At most once per attempt.** botocore's retry modes retry a read timeout, so an agent that is
slow would receive the same ``POST /invocations`` twice (FIELD-NOTES, second round) — a double
action for an agent that pays or books. The client made here keeps botocore's ``standard``
mode (at most 2 calls) but replaces its retry decision: only an error raised *before the
request was sent* (connection refused, DNS failure, connect timeout, TLS handshake) is retried.
A read timeout, a dropped connection and every answer (throttling included) are not; the
workflow step's ``retry`` is the only thing that invokes an agent again, and each of its
attempts is visible in the execution history.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import Any

from . import env
from .errors import AGENT_ERROR, RATE_LIMIT, TIMEOUT, VALIDATION_ERROR, StepError
from .sessions import runtime_session_id
from .streams import decode_response

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "MAX_READ_TIMEOUT",
    "RUNTIME_ARN",
    "RUNTIME_ENDPOINT",
    "StepError",
    "client_error",
    "decode_response",
    "get_client",
    "invoke_runtime",
    "read_timeout_for",
    "region_of",
    "retry_only_unsent",
    "runtime_session_id",
    "stop_session",
]

#: The endpoint (``qualifier``) every AgentCore runtime has; its log group is named after it.
RUNTIME_ENDPOINT = "DEFAULT"
#: Longest read timeout any client gets, in seconds (a Lambda runs at most 900 s).
MAX_READ_TIMEOUT = 900
CONNECT_TIMEOUT_SECONDS = 10
#: A ``bedrock-agentcore`` runtime ARN (``arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<id>``).
RUNTIME_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):bedrock-agentcore:(?P<region>[a-z0-9-]*):\d{12}:runtime/.+$")
#: ``botocore.config.Config(retries=...)`` of every client: at most one retry (see :func:`retry_only_unsent`).
RETRIES = {"total_max_attempts": 2, "mode": "standard"}
_RATE_LIMIT_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})
#: Pause before the one retry of a connection that could not be opened, in seconds.
_UNSENT_RETRY_DELAY = 0.2

_clients: dict[tuple[str | None, int, str | None], Any] = {}
_clients_lock = threading.Lock()


def read_timeout_for(timeout_seconds: float) -> int:
    """The client read timeout (whole seconds, 1..``MAX_READ_TIMEOUT``) for a step timeout."""
    return max(1, min(MAX_READ_TIMEOUT, int(-(-timeout_seconds // 1))))


def region_of(arn: str) -> str | None:
    """The region named in a runtime ARN, else ``AWS_REGION``/``AWS_DEFAULT_REGION``."""
    match = RUNTIME_ARN.match(arn)
    if match and match.group("region"):
        return match.group("region")
    return os.environ.get(env.AWS_REGION) or os.environ.get(env.AWS_DEFAULT_REGION)


def retry_only_unsent(max_attempts: int):
    """A botocore ``needs-retry`` handler that retries only errors raised before the request was sent.

    botocore's ``ConnectionError`` family (``EndpointConnectionError``, ``ConnectTimeoutError``,
    ``ProxyConnectionError``, ``SSLError``) is raised while opening the connection; a
    ``ReadTimeoutError``, a ``ConnectionClosedError`` or any answer may come after the agent got
    the request, and is never retried here.

    Parameters
    ----------
    max_attempts : int
        Calls in all, the first included.

    Returns
    -------
    callable
        ``handler(attempts, caught_exception=None, **kwargs) -> float | None`` (seconds to wait
        before retrying, or ``None``: do not retry), botocore's ``needs-retry`` contract.
    """
    from botocore.exceptions import ConnectionError as BotocoreConnectionError

    def needs_retry(attempts: int, caught_exception: BaseException | None = None, **_: Any) -> float | None:
        if isinstance(caught_exception, BotocoreConnectionError) and attempts < max_attempts:
            return _UNSENT_RETRY_DELAY * attempts
        return None

    return needs_retry


def _at_most_once(client: Any) -> Any:
    """Replace the client's standard retry decision by :func:`retry_only_unsent` (same unique id)."""
    service = client.meta.service_model.service_id.hyphenize()
    unique_id = f"retry-config-{service}"
    client.meta.events.unregister(f"needs-retry.{service}", unique_id=unique_id)
    client.meta.events.register(f"needs-retry.{service}", retry_only_unsent(RETRIES["total_max_attempts"]),
                                unique_id=unique_id)
    return client


def get_client(region: str | None, read_timeout: int = MAX_READ_TIMEOUT) -> Any:
    """Return the cached ``bedrock-agentcore`` client for a region and read timeout.

    One client is created per ``(region, read_timeout, endpoint override)`` and reused by every
    later invocation of a warm Lambda. botocore's ``standard`` mode with ``total_max_attempts=2``,
    whose retry decision is :func:`retry_only_unsent`: a request that reached the agent is never
    sent again. Connect timeout 10 s. The endpoint is botocore's default, so
    ``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`` can point it at a local emulator.

    Parameters
    ----------
    region : str or None
        AWS region; ``None`` lets botocore resolve it from the environment.
    read_timeout : int, default ``MAX_READ_TIMEOUT`` (900)
        Socket read timeout in seconds.

    Returns
    -------
    botocore.client.BaseClient
        The ``bedrock-agentcore`` data-plane client.
    """
    # The endpoint override is part of the key: a long-lived process (the local engine, tests) may
    # point AWS_ENDPOINT_URL_BEDROCK_AGENTCORE at a new emulator between calls.
    endpoint = os.environ.get(env.AWS_ENDPOINT_URL_BEDROCK_AGENTCORE) or os.environ.get(env.AWS_ENDPOINT_URL)
    key = (region, int(read_timeout), endpoint)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                config = Config(read_timeout=int(read_timeout), connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                retries=dict(RETRIES))
                client = _at_most_once(boto3.client("bedrock-agentcore", region_name=region, config=config))
                _clients[key] = client
    return client


def clear_clients() -> None:
    """Forget the cached clients (tests; a process that changes credentials)."""
    with _clients_lock:
        _clients.clear()


def client_error(exc: Any, label: str, arn: str, *, step_id: str | None = None) -> StepError:
    """A botocore ``ClientError`` of ``InvokeAgentRuntime`` as ``RATE_LIMIT`` or ``AGENT_ERROR``.

    Throttling (``ThrottlingException``, ``ServiceQuotaExceededException``,
    ``TooManyRequestsException`` or HTTP 429) is ``RATE_LIMIT``; anything else ``AGENT_ERROR``,
    with the permissions a caller needs when access was denied.
    """
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    message = error.get("Message") or str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _RATE_LIMIT_CODES or status == 429:
        return RATE_LIMIT(f"agent {label!r} was throttled ({code}): {message}", agent_id=label, step_id=step_id,
                          aws_code=code)
    text = f"agent {label!r} failed ({code}): {message}"
    if code == "AccessDeniedException":
        text += (f"; the caller needs bedrock-agentcore:InvokeAgentRuntime on {arn} and on {arn}/* "
                 "(the runtime endpoint sub-resource)")
    return AGENT_ERROR(text, agent_id=label, step_id=step_id, aws_code=code)


def invoke_runtime(client: Any, *, arn: str, session_id: str, payload: bytes, label: str,
                   qualifier: str = RUNTIME_ENDPOINT, timeout_seconds: float | None = None,
                   deadline: float | None = None, step_id: str | None = None, user_id: str | None = None,
                   traceparent: str | None = None, on_text: Any = None) -> tuple[Any, str | None, int]:
    """Send one ``InvokeAgentRuntime`` request and decode the whole answer.

    Parameters
    ----------
    client : botocore.client.BaseClient
        A ``bedrock-agentcore`` client (:func:`get_client`).
    arn : str
        The runtime ARN.
    session_id : str
        The ``runtimeSessionId`` (33–256 characters: :func:`runtime_session_id`).
    payload : bytes
        The request body (UTF-8 JSON).
    label : str
        How errors name the agent (its id).
    qualifier : str
        The runtime endpoint. Default ``"DEFAULT"``.
    timeout_seconds : float, optional
        Named in the ``TIMEOUT`` message.
    deadline : float, optional
        ``time.monotonic()`` after which reading the answer stops with ``TIMEOUT``.
    on_text : callable, optional
        Called with each text chunk of a streamed answer as it arrives (:func:`decode_response`).
    step_id : str, optional
        Attached to the errors.
    user_id : str, optional
        Sent as ``runtimeUserId`` (header ``X-Amzn-Bedrock-AgentCore-Runtime-User-Id``, 1–1024
        characters; the caller then needs ``bedrock-agentcore:InvokeAgentRuntimeForUser``).
    traceparent : str, optional
        Sent as ``traceParent`` (the W3C ``traceparent`` header: :mod:`stepgraph_runtime.trace`).

    Returns
    -------
    tuple
        ``(output, content_type, bytes_read)``; the output as :func:`decode_response` gives it.

    Raises
    ------
    RATE_LIMIT
        When AgentCore throttles the call.
    AGENT_ERROR
        When the runtime or the container fails, access is denied, or the answer is malformed or cut short.
    TIMEOUT
        When connecting or reading exceeds the timeout.
    VALIDATION_ERROR
        When botocore refuses the parameters.
    botocore.exceptions.NoCredentialsError, PartialCredentialsError, NoRegionError
        Unchanged: the caller's configuration, not the agent, is at fault.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    within = f" within {timeout_seconds:g} s" if timeout_seconds is not None else " in time"
    try:
        identity = {k: v for k, v in (("runtimeUserId", user_id), ("traceParent", traceparent)) if v}
        response = client.invoke_agent_runtime(agentRuntimeArn=arn, qualifier=qualifier, runtimeSessionId=session_id,
                                               contentType="application/json", payload=payload, **identity)
        content_type = response.get("contentType")
        stream = response["response"]
        try:
            output, read = decode_response(content_type, stream, deadline=deadline, on_text=on_text)
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
    except StepError as exc:
        exc.agent_id = exc.agent_id or label
        exc.step_id = exc.step_id or step_id
        if f"agent {label!r}" not in exc.message:
            exc.with_message(f"agent {label!r}: {exc.message}")
        raise
    except ClientError as exc:
        raise client_error(exc, label, arn, step_id=step_id) from exc
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        raise TIMEOUT(f"agent {label!r} did not answer{within}: {exc}", agent_id=label, step_id=step_id,
                      aws_code=type(exc).__name__) from exc
    except ParamValidationError as exc:
        raise VALIDATION_ERROR(f"agent {label!r}: {exc}", agent_id=label, step_id=step_id) from exc
    except (NoCredentialsError, PartialCredentialsError, NoRegionError):
        raise  # the caller's set-up, not the agent: the CLI names the fix
    except BotoCoreError as exc:
        raise AGENT_ERROR(f"agent {label!r} failed ({type(exc).__name__}): {exc}", agent_id=label, step_id=step_id,
                          aws_code=type(exc).__name__) from exc
    return output, content_type, read


def stop_session(client: Any, *, arn: str, session_id: str, qualifier: str = RUNTIME_ENDPOINT) -> bool:
    """Stop one runtime session (``StopRuntimeSession``); ``False`` when it was not running.

    A session that is unknown or already ended answers ``ResourceNotFoundException``: there is
    nothing to stop. Every other error is raised.
    """
    from botocore.exceptions import ClientError

    try:
        client.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session_id, qualifier=qualifier)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code")  == "ResourceNotFoundException":
            return False
        raise
    return True


def encode_payload(payload: Any, *, label: str, step_id: str | None = None) -> bytes:
    """A payload as the request body: ``bytes`` as they are, any other JSON value as compact UTF-8 JSON.

    Raises
    ------
    VALIDATION_ERROR
        When the payload is not JSON-serializable.
    """
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise VALIDATION_ERROR(f"payload is not JSON-serializable: {exc}", agent_id=label, step_id=step_id) from exc


def monotonic_deadline(budget_seconds: float) -> float:
    """``time.monotonic()`` plus ``budget_seconds``."""
    return time.monotonic() + budget_seconds
