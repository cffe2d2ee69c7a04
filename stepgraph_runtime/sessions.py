"""The AgentCore ``runtimeSessionId`` rule: 33–256 safe characters, deterministic per session."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .errors import VALIDATION_ERROR
from .records import record_session_id

__all__ = ["SESSION_ID_MAX", "SESSION_ID_MIN", "execution_runtime_session_id", "runtime_session_id"]

#: AgentCore's bounds on ``runtimeSessionId`` (botocore's model: min 33, max 256).
SESSION_ID_MIN = 33
SESSION_ID_MAX = 256
_SESSION_HASH_LEN = 32
_SAFE_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]+$")
_UNSAFE_SESSION_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")


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
        The workflow's session id (:func:`stepgraph_runtime.records.record_session_id`).

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


def execution_runtime_session_id(execution_input: Any, execution_name: str) -> str:
    """The ``runtimeSessionId`` of an execution's agent steps: the record's ``sessionId``, made valid.

    Examples
    --------
    >>> execution_runtime_session_id({"session_id": "chat-42"}, "run-1") == runtime_session_id("chat-42")
    True
    """
    return runtime_session_id(record_session_id(execution_input, execution_name))
