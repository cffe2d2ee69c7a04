"""Lambda that invokes an agent on Amazon Bedrock AgentCore Runtime and drains its response."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import boto3
from aws_lambda_powertools import Logger, Tracer
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ParamValidationError,
    ReadTimeoutError,
)

# Deployed, ``stepgraph_offload.py`` sits beside this file; run from a checkout it lives in
# ``lambdas/shared/``, added to sys.path only when the module cannot be imported otherwise.
try:
    import stepgraph_offload
except ModuleNotFoundError as _offload_exc:  # pragma: no cover - depends on how the handler is started
    if _offload_exc.name != "stepgraph_offload":
        raise
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))
    import stepgraph_offload

# Text chunks of streamed answers go to the HTTP API's live streams (``stepgraph_deltas.py`` beside
# this file when deployed; the core package's ``stepgraph.deltas`` when run from a checkout).
try:
    import stepgraph_deltas
except ModuleNotFoundError as _deltas_exc:  # pragma: no cover - depends on how the handler is started
    if _deltas_exc.name != "stepgraph_deltas":
        raise
    from stepgraph import deltas as stepgraph_deltas

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

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepgraph"))
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepgraph"))

#: Longest read timeout any client gets, in seconds (a Lambda runs at most 900 s).
MAX_READ_TIMEOUT = 900
#: Timeout used when the event carries no ``timeout_seconds``.
DEFAULT_TIMEOUT_SECONDS = 300
#: Seconds kept back from the Lambda's remaining time so ``TIMEOUT`` is raised before the sandbox is killed.
LAMBDA_SAFETY_MARGIN_SECONDS = 3.0
#: Bytes asked for per read of the response body.
READ_CHUNK_SIZE = 64 * 1024

SESSION_ID_MIN = 33
SESSION_ID_MAX = 256
_SESSION_HASH_LEN = 32
_SAFE_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]+$")
_UNSAFE_SESSION_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")
_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):bedrock-agentcore:(?P<region>[a-z0-9-]*):\d{12}:runtime/.+$")

_RATE_LIMIT_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})
_REQUIRED_FIELDS = ("agent_id", "agent_runtime_arn", "session_id", "payload")

_clients: dict[tuple[str | None, int, str | None], Any] = {}
_clients_lock = threading.Lock()


# --------------------------------------------------------------------------- errors


class InvokeAgentError(Exception):
    """Base class of the errors this Lambda raises.

    The class *name* of each subclass is the error code: Lambda reports ``type(exc).__name__`` as
    ``errorType`` and a Step Functions ``Retry``/``Catch`` matches it in ``ErrorEquals``.

    Parameters
    ----------
    message : str
        Human-readable sentence (becomes Lambda's ``errorMessage``).
    agent_id : str, optional
        The agent that was invoked.
    step_id : str, optional
        The workflow step that invoked it.
    aws_code : str, optional
        The AWS error code or botocore exception name this error was converted from.
    """

    code = "INVOKE_AGENT_ERROR"

    def __init__(
        self,
        message: str,
        *,
        agent_id: str | None = None,
        step_id: str | None = None,
        aws_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.agent_id = agent_id
        self.step_id = step_id
        self.aws_code = aws_code


class RATE_LIMIT(InvokeAgentError):  # noqa: N801 - the class name is the Step Functions error code
    """AgentCore throttled the call (``ThrottlingException``, ``ServiceQuotaExceededException``,
    ``TooManyRequestsException``); retrying later usually succeeds."""

    code = "RATE_LIMIT"


class AGENT_ERROR(InvokeAgentError):  # noqa: N801 - the class name is the Step Functions error code
    """The runtime or the agent's container failed, refused the call, or answered a malformed body."""

    code = "AGENT_ERROR"


class TIMEOUT(InvokeAgentError):  # noqa: N801 - the class name is the Step Functions error code
    """The agent did not answer (or finish streaming) within the step's ``timeout_seconds``."""

    code = "TIMEOUT"


class VALIDATION_ERROR(InvokeAgentError, ValueError):  # noqa: N801 - the class name is the Step Functions error code
    """The event is missing fields or holds values the call cannot be made with (a compiler/caller bug)."""

    code = "VALIDATION_ERROR"


#: Readable aliases (STYLE.md names errors with an ``Error`` suffix).
RateLimitError = RATE_LIMIT
AgentError = AGENT_ERROR
AgentTimeoutError = TIMEOUT
EventValidationError = VALIDATION_ERROR


# --------------------------------------------------------------------------- session id


def runtime_session_id(session_id: str) -> str:
    """Derive the AgentCore ``runtimeSessionId`` for a workflow session id.

    AgentCore requires 33-256 characters (botocore rejects shorter ids before sending). The rule is
    deterministic, so every agent step of one execution (and every execution that carries the same
    ``input.session_id``) lands in the same runtime session:

    1. If ``session_id`` is already 33-256 characters long and only uses ``[A-Za-z0-9._:-]``, it is
       used unchanged.
    2. Otherwise the result is ``f"{prefix}-{digest}"`` where ``digest`` is the first 32 hex digits
       of ``sha256(session_id)`` and ``prefix`` is ``session_id`` with every run of other characters
       replaced by ``-``, cut to its first 223 characters (``"session"`` if nothing is left). The
       result is therefore 33-256 characters long, keeps the original readable, and two different
       session ids (even ones sharing their first 223 characters) give different results.

    Parameters
    ----------
    session_id : str
        The workflow's session id (``input.session_id``, or the execution name when absent).

    Returns
    -------
    str
        A ``runtimeSessionId`` of 33 to 256 characters.

    Raises
    ------
    VALIDATION_ERROR
        When ``session_id`` is not a non-empty string.

    Examples
    --------
    >>> runtime_session_id("chat-42")
    'chat-42-1ade1c134dc7b5da68506109e94ea3cf'
    >>> runtime_session_id("x y/z?")
    'x-y-z-b28de6302658751a3e8d90fad531781c'
    """
    if not isinstance(session_id, str) or not session_id:
        raise VALIDATION_ERROR(f"session_id must be a non-empty string, got {session_id!r}")
    if SESSION_ID_MIN <= len(session_id) <= SESSION_ID_MAX and _SAFE_SESSION_ID.match(session_id):
        return session_id
    digest = hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:_SESSION_HASH_LEN]
    prefix_len = SESSION_ID_MAX - _SESSION_HASH_LEN - 1
    prefix = _UNSAFE_SESSION_CHARS.sub("-", session_id)[:prefix_len].strip("-") or "session"
    return f"{prefix}-{digest}"


# --------------------------------------------------------------------------- client


def _read_timeout_for(timeout_seconds: float) -> int:
    """Return the client read timeout (whole seconds, 1..``MAX_READ_TIMEOUT``) for a step timeout."""
    return max(1, min(MAX_READ_TIMEOUT, int(-(-timeout_seconds // 1))))


def get_client(region: str | None, read_timeout: int = MAX_READ_TIMEOUT) -> Any:
    """Return the cached ``bedrock-agentcore`` client for a region and read timeout.

    One client is created per ``(region, read_timeout, endpoint override)`` and reused by every
    later invocation of the warm Lambda; a workflow uses only a handful of distinct step timeouts. botocore makes at
    most two attempts (``standard`` mode, ``total_max_attempts=2``) because the Step Functions
    ``Retry`` does the real retrying. Connect timeout: 10 s.
    The endpoint is botocore's default, so ``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`` can point it at
    a local emulator.

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
    endpoint = os.environ.get("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE") or os.environ.get("AWS_ENDPOINT_URL")
    key = (region, int(read_timeout), endpoint)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                config = Config(
                    read_timeout=int(read_timeout),
                    connect_timeout=10,
                    # botocore's "max_attempts" counts *retries* (2 would mean 3 calls);
                    # "total_max_attempts" counts calls: one call plus at most one retry.
                    retries={"total_max_attempts": 2, "mode": "standard"},
                )
                client = boto3.client("bedrock-agentcore", region_name=region, config=config)
                _clients[key] = client
    return client


def _region_of(arn: str) -> str | None:
    """Return the region named in a runtime ARN, else ``AWS_REGION``/``AWS_DEFAULT_REGION``."""
    match = _ARN.match(arn)
    if match and match.group("region"):
        return match.group("region")
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


# --------------------------------------------------------------------------- response decoding


def _read_as_available(body: Any) -> Any:
    """``read(amt)`` that returns what has arrived (urllib3's ``read1``) instead of waiting for ``amt`` bytes.

    A streamed answer's chunks then reach ``on_text`` as the agent sends them. urllib3 errors are
    converted as botocore's ``StreamingBody.read`` converts them.
    """
    from botocore.exceptions import ResponseStreamingError
    from urllib3.exceptions import ProtocolError, ReadTimeoutError as Urllib3ReadTimeout

    read1 = getattr(getattr(body, "_raw_stream", None), "read1", None)
    if read1 is None:
        return body.read

    def read(amt: int) -> bytes:
        try:
            return read1(amt)
        except Urllib3ReadTimeout as exc:
            raise ReadTimeoutError(endpoint_url=getattr(exc, "url", None) or "", error=exc) from exc
        except ProtocolError as exc:
            raise ResponseStreamingError(error=exc) from exc

    return read


def _chunks(body: Any, deadline: float | None, stats: dict[str, int], *, as_available: bool = False) -> Iterator[bytes]:
    """Yield the body's chunks until it ends, counting bytes and enforcing the deadline."""
    read = _read_as_available(body) if as_available else body.read
    while True:
        chunk = read(READ_CHUNK_SIZE)
        if not chunk:
            return
        stats["bytes"] += len(chunk)
        if deadline is not None and time.monotonic() > deadline:
            raise TIMEOUT(f"response still streaming after the deadline ({stats['bytes']} bytes read)")
        yield chunk


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Split a byte stream into lines (``\\n``, ``\\r\\n`` or ``\\r``), across chunk boundaries.

    Pieces of an unterminated line are kept in a list and joined once, so a multi-megabyte line is
    copied a constant number of times. A trailing ``\\r`` is held back in case ``\\n`` follows.
    """
    pieces: list[bytes] = []
    for chunk in chunks:
        if b"\n" not in chunk and b"\r" not in chunk:
            pieces.append(chunk)
            continue
        pieces.append(chunk)
        parts = b"".join(pieces).splitlines(keepends=True)
        tail = parts[-1]
        if not tail.endswith((b"\n", b"\r")) or tail.endswith(b"\r"):
            parts.pop()
            pieces = [tail]
        else:
            pieces = []
        for line in parts:
            yield line.rstrip(b"\r\n")
    if pieces:
        for line in b"".join(pieces).splitlines():
            yield line


def _text_chunk(event: Any) -> str | None:
    """Return the text an SSE event contributes to ``response`` (see ``decode_response``)."""
    if isinstance(event, str):
        return event
    if isinstance(event, dict):
        for key in ("delta", "text", "response"):
            value = event.get(key)
            if isinstance(value, str):
                return value
    return None


def _is_sdk_stream_error(event: Any) -> bool:
    """Tell whether an SSE event is the error event ``BedrockAgentCoreApp`` emits when a generator raises."""
    return isinstance(event, dict) and "error" in event and "error_type" in event


def decode_response(content_type: str | None, body: Any, *, deadline: float | None = None,
                    on_text: Any = None) -> tuple[Any, int]:
    """Read an ``InvokeAgentRuntime`` response body fully and decode it.

    The body is read in ``READ_CHUNK_SIZE`` chunks until it ends, so large or slowly streamed
    bodies are never truncated.

    * ``application/json`` - the decoded JSON document is the output.
    * ``text/event-stream`` - every ``data:`` line is one event: its JSON value, or the raw string
      when it is not JSON (``event:``, ``id:``, ``retry:`` and ``:`` comment lines are skipped).
      The output is ``{"response": "".join(text chunks), "events": [decoded events]}``, where an
      event's text chunk is the event itself when it is a string (a JSON string, or a non-JSON line
      kept verbatim), else the first string among its ``"delta"``, ``"text"``, ``"response"``
      fields (in that order); other events (numbers, lists, other objects) add no text. Chunks are
      joined with no separator (they are deltas).
    * anything else - ``{"response": <body decoded as UTF-8>}``.

    Parameters
    ----------
    content_type : str or None
        The response's ``contentType`` (parameters such as ``charset`` are ignored).
    body : file-like
        The ``StreamingBody`` (anything with ``read(amt)``).
    deadline : float, optional
        ``time.monotonic()`` value after which reading stops with ``TIMEOUT``.
    on_text : callable, optional
        Called with each text chunk of an event stream as it arrives (``stepgraph_deltas``).

    Returns
    -------
    tuple
        ``(output, bytes_read)``.

    Raises
    ------
    AGENT_ERROR
        When an ``application/json`` body is not valid JSON, or the stream carries the error event
        ``BedrockAgentCoreApp`` writes when the agent's generator raises
        (``{"error": ..., "error_type": ...}``).
    TIMEOUT
        When the body is still streaming after ``deadline``.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    stats = {"bytes": 0}
    chunks = _chunks(body, deadline, stats, as_available=media_type == "text/event-stream")

    if media_type == "text/event-stream":
        events: list[Any] = []
        texts: list[str] = []
        for raw in _lines(chunks):
            line = raw.decode("utf-8", errors="replace")
            if not line.startswith("data:"):
                continue
            data = line[5:]
            if data.startswith(" "):
                data = data[1:]
            try:
                event = json.loads(data)
            except ValueError:
                event = data
            if _is_sdk_stream_error(event):
                raise AGENT_ERROR(
                    f"agent stream failed: {event.get('error_type')}: {event.get('error')}",
                    aws_code=str(event.get("error_type")),
                )
            events.append(event)
            text = _text_chunk(event)
            if text is not None:
                texts.append(text)
                if on_text is not None:
                    on_text(text)
        return {"response": "".join(texts), "events": events}, stats["bytes"]

    raw_body = b"".join(chunks)
    if media_type == "application/json":
        try:
            return json.loads(raw_body), stats["bytes"]
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError; the body itself is never echoed
            raise AGENT_ERROR(
                f"malformed response: the {len(raw_body)}-byte application/json body is not JSON ({exc})"
            ) from exc
    return {"response": raw_body.decode("utf-8", errors="replace")}, stats["bytes"]


# --------------------------------------------------------------------------- invoke


def _validated(event: Any) -> dict[str, Any]:
    """Check the event's fields, collecting every problem before raising once."""
    if not isinstance(event, dict):
        raise VALIDATION_ERROR(f"event must be a JSON object, got {type(event).__name__}")
    issues = [f"missing field {name!r}" for name in _REQUIRED_FIELDS if name not in event]
    for name in ("agent_id", "agent_runtime_arn", "session_id"):
        if name in event and (not isinstance(event[name], str) or not event[name]):
            issues.append(f"{name!r} must be a non-empty string")
    arn = event.get("agent_runtime_arn")
    if isinstance(arn, str) and arn and not _ARN.match(arn):
        issues.append(f"'agent_runtime_arn' is not a bedrock-agentcore runtime ARN: {arn!r}")
    qualifier = event.get("qualifier", "DEFAULT")
    if qualifier is not None and (not isinstance(qualifier, str) or not qualifier):
        issues.append("'qualifier' must be a non-empty string")
    timeout = event.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        issues.append(f"'timeout_seconds' must be a positive number, got {timeout!r}")
    if issues:
        raise VALIDATION_ERROR(
            f"invalid invoke_agent event ({len(issues)} problem{'s' if len(issues) > 1 else ''}): "
            + "; ".join(issues),
            agent_id=event.get("agent_id") if isinstance(event.get("agent_id"), str) else None,
            step_id=event.get("step_id"),
        )
    return event


def _client_error(exc: ClientError, agent_id: str, step_id: str | None, arn: str) -> InvokeAgentError:
    """Convert a botocore ``ClientError`` to ``RATE_LIMIT`` or ``AGENT_ERROR``."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    message = error.get("Message") or str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _RATE_LIMIT_CODES or status == 429:
        return RATE_LIMIT(
            f"agent {agent_id!r} was throttled ({code}): {message}", agent_id=agent_id, step_id=step_id, aws_code=code
        )
    text = f"agent {agent_id!r} failed ({code}): {message}"
    if code == "AccessDeniedException":
        text += (
            f"; the caller needs bedrock-agentcore:InvokeAgentRuntime on {arn} and on {arn}/* "
            "(the runtime endpoint sub-resource)"
        )
    return AGENT_ERROR(text, agent_id=agent_id, step_id=step_id, aws_code=code)


def invoke_agent(event: dict[str, Any], *, remaining_time_ms: int | None = None) -> Any:
    """Invoke an AgentCore runtime with the event's payload and return the agent's output.

    Parameters
    ----------
    event : dict
        ``{"agent_id", "agent_runtime_arn", "session_id", "payload"}`` (required) and
        ``"qualifier"`` (default ``"DEFAULT"``), ``"timeout_seconds"`` (default 300),
        ``"step_id"``, ``"execution_name"`` (optional, logged).
    remaining_time_ms : int, optional
        The Lambda's remaining time; the deadline is cut to it minus
        ``LAMBDA_SAFETY_MARGIN_SECONDS`` so ``TIMEOUT`` is raised before the sandbox is killed.

    Returns
    -------
    Any
        The decoded output (see ``decode_response``).

    Raises
    ------
    VALIDATION_ERROR
        When the event is missing fields or holds invalid values.
    RATE_LIMIT
        When AgentCore throttles the call.
    AGENT_ERROR
        When the runtime or the container fails, access is denied, or the body is malformed.
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
    deadline = started + budget

    try:
        body = json.dumps(event["payload"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise VALIDATION_ERROR(f"payload is not JSON-serializable: {exc}", agent_id=agent_id, step_id=step_id) from exc

    keys = {"agent_id": agent_id, "step_id": step_id, "runtime_session_id": session,
            "execution_name": event.get("execution_name")}
    qualifier = event.get("qualifier") or "DEFAULT"
    logger.info(
        "invoking agent runtime",
        extra={**keys, "qualifier": qualifier, "payload_bytes": len(body), "timeout_seconds": budget},
    )
    client = get_client(_region_of(arn), _read_timeout_for(budget))
    try:
        response = client.invoke_agent_runtime(
            agentRuntimeArn=arn,
            qualifier=qualifier,
            runtimeSessionId=session,
            contentType="application/json",
            payload=body,
        )
        content_type = response.get("contentType")
        stream = response["response"]
        try:
            publisher = stepgraph_deltas.publisher_for(event)
            output, read = decode_response(content_type, stream, deadline=deadline,
                                           on_text=publisher.publish if publisher else None)
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
    except InvokeAgentError as exc:
        exc.agent_id = exc.agent_id or agent_id
        exc.step_id = exc.step_id or step_id
        if f"agent {agent_id!r}" not in exc.message:
            exc.message = f"agent {agent_id!r}: {exc.message}"
            exc.args = (exc.message,)
        logger.warning("agent invocation failed", extra={**keys, "error_code": exc.code})
        raise
    except ClientError as exc:
        error = _client_error(exc, agent_id, step_id, arn)
        logger.warning("agent invocation failed", extra={**keys, "error_code": error.code, "aws_code": error.aws_code})
        raise error from exc
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        logger.warning("agent invocation timed out", extra={**keys, "error_code": "TIMEOUT"})
        raise TIMEOUT(
            f"agent {agent_id!r} did not answer within {budget:g} s: {exc}",
            agent_id=agent_id,
            step_id=step_id,
            aws_code=type(exc).__name__,
        ) from exc
    except ParamValidationError as exc:
        raise VALIDATION_ERROR(f"agent {agent_id!r}: {exc}", agent_id=agent_id, step_id=step_id) from exc
    except BotoCoreError as exc:
        logger.warning(
            "agent invocation failed", extra={**keys, "error_code": "AGENT_ERROR", "aws_code": type(exc).__name__}
        )
        raise AGENT_ERROR(
            f"agent {agent_id!r} failed ({type(exc).__name__}): {exc}",
            agent_id=agent_id,
            step_id=step_id,
            aws_code=type(exc).__name__,
        ) from exc

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
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """Lambda entry point: see ``invoke_agent``; errors surface under their code as ``errorType``.

    Offloaded values in the payload are fetched first, and an output too large for Step
    Functions goes to S3 by reference (``stepgraph_offload``).
    """
    if isinstance(event, dict) and "payload" in event:
        event = {**event, "payload": stepgraph_offload.resolve(event["payload"])}
    output = invoke_agent(event, remaining_time_ms=_remaining_ms(context))
    return stepgraph_offload.offload(output, workflow=str(event.get("workflow_name") or "unknown"),
                                     execution=str(event.get("execution_name") or "unknown"),
                                     step=str(event.get("step_id") or "agent"))
