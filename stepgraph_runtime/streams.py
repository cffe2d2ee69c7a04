"""Decoding an ``InvokeAgentRuntime`` answer: JSON, ``text/event-stream``, or text; nothing cut short passes."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable, Iterator

from .errors import AGENT_ERROR, TIMEOUT

__all__ = ["READ_CHUNK_SIZE", "decode_response", "events_output"]

#: Bytes asked for per read of the response body.
READ_CHUNK_SIZE = 64 * 1024
#: Exception class names that mean "the read timed out" (botocore's and urllib3's ``ReadTimeoutError``).
_TIMEOUT_NAMES = frozenset({"ReadTimeoutError", "ConnectTimeoutError"})


def _is_read_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or any(cls.__name__ in _TIMEOUT_NAMES for cls in type(exc).__mro__)


def _read_as_available(body: Any) -> Any:
    """``read(amt)`` that returns what has arrived (urllib3's ``read1``) instead of waiting for
    ``amt`` bytes, so a streamed answer's chunks reach ``on_text`` as the agent sends them.
    Bodies without it (a test's ``BytesIO``) keep their ``read``."""
    read1 = getattr(getattr(body, "_raw_stream", None), "read1", None)
    return read1 if read1 is not None else body.read


def _chunks(body: Any, deadline: float | None, stats: dict[str, int], *, as_available: bool = False) -> Iterator[bytes]:
    """Yield the body's chunks until it ends, counting bytes and enforcing the deadline.

    A read that fails other than by timing out (the connection closed before the body ended:
    botocore's ``ResponseStreamingError`` or ``IncompleteReadError``, urllib3's ``ProtocolError``)
    is ``AGENT_ERROR``: the answer was cut short.
    """
    read = _read_as_available(body) if as_available else body.read
    while True:
        try:
            chunk = read(READ_CHUNK_SIZE)
        except Exception as exc:
            if _is_read_timeout(exc):
                raise
            raise AGENT_ERROR(
                f"the answer was cut short after {stats['bytes']} bytes ({type(exc).__name__}: {exc})",
                aws_code=type(exc).__name__,
            ) from exc
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


def _event(raw: bytes, index: int) -> Any:
    """One ``data:`` line's value; ``AGENT_ERROR`` for bytes that are not UTF-8 or JSON cut short."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AGENT_ERROR(f"malformed event stream: event {index} is not UTF-8 ({exc})") from exc
    data = line[5:]
    if data.startswith(" "):
        data = data[1:]
    try:
        return json.loads(data)
    except ValueError as exc:
        if data.lstrip().startswith(("{", "[")):
            raise AGENT_ERROR(
                f"malformed event stream: event {index} starts as JSON but is not JSON "
                f"(cut short?): {exc}; {len(data)} characters"
            ) from exc
        return data


def events_output(events: Iterable[Any]) -> dict[str, Any]:
    """The output an event stream decodes to, from the events themselves (an async agent's generator).

    ``{"response": <text chunks joined>, "events": [...]}``, the shape :func:`decode_response`
    gives a ``text/event-stream`` body, so a streaming agent's output is the same in both modes.
    """
    collected = list(events)
    texts = [t for t in (_text_chunk(e) for e in collected) if t is not None]
    return {"response": "".join(texts), "events": collected}


def decode_response(content_type: str | None, body: Any, *, deadline: float | None = None,
                    on_text: Callable[[str], Any] | None = None) -> tuple[Any, int]:
    """Read an ``InvokeAgentRuntime`` response body fully and decode it.

    The body is read in ``READ_CHUNK_SIZE`` chunks until it ends, so large or slowly streamed
    bodies are never truncated; a body whose connection ends before it does is an error.

    * ``application/json`` - the decoded JSON document is the output.
    * ``text/event-stream`` - every ``data:`` line is one event: its JSON value, or the raw string
      when it is not JSON and does not start like JSON (``event:``, ``id:``, ``retry:`` and ``:``
      comment lines are skipped). The output is ``{"response": "".join(text chunks), "events":
      [decoded events]}``, where an event's text chunk is the event itself when it is a string (a
      JSON string, or a non-JSON line kept verbatim), else the first string among its ``"delta"``,
      ``"text"``, ``"response"`` fields (in that order); other events (numbers, lists, other
      objects) add no text. Chunks are joined with no separator (they are deltas).
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
        Called with each text chunk of an event stream as it arrives (the HTTP API's live
        ``delta`` events, :mod:`stepgraph_runtime.deltas`); the output is the same either way.

    Returns
    -------
    tuple
        ``(output, bytes_read)``.

    Raises
    ------
    AGENT_ERROR
        When an ``application/json`` body is not valid JSON; when the stream carries the error
        event ``BedrockAgentCoreApp`` writes when the agent's generator raises
        (``{"error": ..., "error_type": ...}``); when an event is not UTF-8 or starts as JSON but
        does not parse (an event cut short); or when the connection ends before the body does.
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
            if not raw.startswith(b"data:"):
                continue
            event = _event(raw, len(events))
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
