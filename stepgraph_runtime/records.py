"""The result record (SPEC §5): its fields, its session id, the error mapping, and how to build one.

Every execution ends with one record at ``results/<workflowName>/<executionName>.json``. The
compiled tail builds it in JSONata, ``lambdas/record_backstop`` when the tail never ran, and
``stepgraph invoke`` when neither record exists in time; all three follow the rules here:

* :data:`RESULT_RECORD_FIELDS` — the keys, in order;
* :func:`record_session_id` — ``input.session_id``, else ``input.sessionId``, else the execution name;
* :func:`failure_error` — a failure's ``Error``/``Cause`` as ``{code, message, step}``, exactly as
  ``stepgraph/compiler/asl.py: error_object`` computes it in JSONata;
* :func:`execution_error` — the same for a whole execution's ending (``ABORTED`` → ``CANCELLED``,
  ``TIMED_OUT`` → ``TIMEOUT``);
* :func:`build_result_record`.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from .errors import ErrorCode

__all__ = [
    "CANCELLED",
    "RESULT_RECORD_FIELDS",
    "STATUS_COMPLETED",
    "STATUS_FAILED",
    "build_result_record",
    "execution_error",
    "failure_error",
    "record_session_id",
    "result_key",
    "session_id_jsonata",
]

#: The keys of a result record, in order (SPEC §5).
RESULT_RECORD_FIELDS: tuple[str, ...] = (
    "executionArn",
    "executionName",
    "workflowName",
    "sessionId",
    "status",
    "result",
    "error",
    "startedAt",
    "completedAt",
)
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"
#: ``error.code`` of an execution stopped from outside (``StopExecution``): not one of the six step codes.
CANCELLED = "CANCELLED"
#: The input keys that may carry the session id, in order of preference.
SESSION_KEYS: tuple[str, ...] = ("session_id", "sessionId")

_CODES = frozenset(code.value for code in ErrorCode)
_TIMEOUT_ERRORS = ("States.Timeout", "States.HeartbeatTimeout")
_THROTTLED = "Lambda.TooManyRequestsException"


def result_key(workflow_name: str, execution_name: str) -> str:
    """S3 key of a result record: ``results/<workflowName>/<executionName>.json`` (SPEC §5).

    Examples
    --------
    >>> result_key("customer-support", "run-1")
    'results/customer-support/run-1.json'
    """
    return f"results/{workflow_name}/{execution_name}.json"


# --------------------------------------------------------------------------- session id


def _session_text(value: Any) -> str | None:
    """A usable session id from one input field: a non-empty string, or a number's text; else ``None``."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def record_session_id(execution_input: Any, execution_name: str) -> str:
    """The ``sessionId`` of an execution (SPEC §5): the one rule for records and agent sessions.

    The first of ``input.session_id`` and ``input.sessionId`` that is a non-empty string or a
    number (as its decimal text: ``42`` → ``"42"``) wins; anything else there (missing, ``null``,
    ``""``, booleans, objects) is skipped; without either, the execution name. The AgentCore
    runtime session of every agent step derives from this value
    (:func:`stepgraph_runtime.sessions.runtime_session_id`).

    Parameters
    ----------
    execution_input : Any
        The execution input (any JSON value; only an object can carry a session id).
    execution_name : str
        The execution's name.

    Returns
    -------
    str

    Examples
    --------
    >>> record_session_id({"session_id": "chat-7", "sessionId": "other"}, "run-1")
    'chat-7'
    >>> record_session_id({"session_id": "", "sessionId": 42}, "run-1")
    '42'
    >>> record_session_id({"session_id": None}, "run-1")
    'run-1'
    """
    if isinstance(execution_input, Mapping):
        for key in SESSION_KEYS:
            text = _session_text(execution_input.get(key))
            if text is not None:
                return text
    return execution_name


def session_id_jsonata(input_expression: str, execution_name_expression: str) -> str:
    """JSONata computing :func:`record_session_id`, for the compiled tail and agent steps.

    Parameters
    ----------
    input_expression : str
        JSONata of the execution input (e.g. ``$states.input.input``).
    execution_name_expression : str
        JSONata of the execution name (``$states.context.Execution.Name``).

    Returns
    -------
    str
        A parenthesized JSONata block.
    """
    pick = ("function($v) { $type($v) = 'string' ? ($v != '' ? $v : null) : "
            "($type($v) = 'number' ? $string($v) : null) }")
    picks = "; ".join(f"$s{i} := $pick({input_expression}.{key})" for i, key in enumerate(SESSION_KEYS))
    return (f"($pick := {pick}; {picks}; "
            f"$s0 != null ? $s0 : ($s1 != null ? $s1 : {execution_name_expression}))")


# --------------------------------------------------------------------------- errors


def _truthy(value: Any) -> bool:
    """JSONata's boolean cast (``$boolean``), which ``? :`` applies to its condition."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, str):
        return value != ""
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, list):
        return any(_truthy(v) for v in value)
    if isinstance(value, dict):
        return bool(value)
    return False


def _text(value: Any) -> str:
    """JSONata's ``&`` operand cast: ``undefined`` → ``""``, strings as they are, others as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _parsed_cause(cause: Any) -> dict[str, Any] | None:
    if isinstance(cause, str) and cause.startswith("{") and cause.endswith("}"):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def failure_error(error: str | None, cause: Any, *, step: str | None, default_code: str) -> dict[str, Any]:
    """A failure's ``Error`` and ``Cause`` as the record's ``{"code", "message", "step"}`` (SPEC §5).

    The Python twin of ``stepgraph/compiler/asl.py: error_object`` (the JSONata every ``Catch``
    evaluates): the code is kept when it is one of the six; ``States.Timeout`` and
    ``States.HeartbeatTimeout`` become ``TIMEOUT``; ``Lambda.TooManyRequestsException`` becomes
    ``RATE_LIMIT``; anything else becomes ``default_code`` and the message starts with the
    original error name. A ``Cause`` that is a JSON object (a Lambda error, or one re-raised
    from a loop body or a branch) gives ``errorMessage`` or ``message``, and ``step`` when present.
    A nested execution's failure (``startExecution.sync``: a ``Cause`` that is the child's
    DescribeExecution) is read through to the child's own ``Error`` and ``Cause``.

    Parameters
    ----------
    error : str or None
        The ``Error`` name (a Lambda's ``errorType``, ``States.Timeout`` …).
    cause : Any
        The ``Cause`` (usually a string, JSON for Lambda errors).
    step : str or None
        The step that failed, unless the cause names another one.
    default_code : str
        The code for errors outside the six (the step kind's code: ``AGENT_ERROR`` for agents).

    Returns
    -------
    dict
        ``{"code", "message", "step"}``.

    Examples
    --------
    >>> failure_error("TIMEOUT", '{"errorMessage": "agent did not answer", "errorType": "TIMEOUT"}',
    ...               step="agent", default_code="AGENT_ERROR")
    {'code': 'TIMEOUT', 'message': 'agent did not answer', 'step': 'agent'}
    >>> failure_error("States.Runtime", "bad path", step="t", default_code="TOOL_ERROR")
    {'code': 'TOOL_ERROR', 'message': 'States.Runtime: bad path', 'step': 't'}
    """
    parsed = _parsed_cause(cause) or {}
    nested = None
    if "ExecutionArn" in parsed and "Error" in parsed:
        # a nested execution (a subflow) that failed: its DescribeExecution, with the child's own Error and Cause
        nested, error, cause = parsed, parsed.get("Error"), parsed.get("Cause")
        parsed = {}
    if _truthy(parsed.get("errorMessage")):
        message: Any = parsed["errorMessage"]
    elif _truthy(parsed.get("message")):
        message = parsed["message"]
    elif _truthy(cause):
        message = cause
    else:
        message = error
    if nested is not None:
        message = f"nested execution {_text(nested.get('Name'))} failed: {_text(message)}"
    known = error in _CODES
    if known:
        code = str(error)
    elif error in _TIMEOUT_ERRORS:
        code = ErrorCode.TIMEOUT.value
    elif error == _THROTTLED:
        code = ErrorCode.RATE_LIMIT.value
    else:
        code = default_code
    if not (known or code in (ErrorCode.TIMEOUT.value, ErrorCode.RATE_LIMIT.value)):
        message = f"{_text(error)}: {_text(message)}"
    return {"code": code, "message": message, "step": parsed["step"] if _truthy(parsed.get("step")) else step}


def execution_error(status: str, error: str | None, cause: Any, *, step: str | None = None,
                    default_code: str | None = None) -> dict[str, Any]:
    """The record's ``error`` for an execution that ended ``status`` without recording itself.

    ``ABORTED`` (stopped from outside) → ``CANCELLED``; ``TIMED_OUT`` → ``TIMEOUT``; ``FAILED`` →
    :func:`failure_error` with the failing step's own code as the default — ``default_code``,
    the ``error_code`` its Task sent (``TOOL_ERROR`` for tools and API calls) — else
    ``AGENT_ERROR`` (``States.Runtime``, ``States.DataLimitExceeded`` … keep their name in the
    message).

    Examples
    --------
    >>> execution_error("ABORTED", None, None)
    {'code': 'CANCELLED', 'message': 'the execution was stopped', 'step': None}
    >>> execution_error("FAILED", "States.Runtime", "bad", step="agent")["code"]
    'AGENT_ERROR'
    """
    if status == "ABORTED":
        return {"code": CANCELLED, "message": str(cause or "the execution was stopped"), "step": step}
    if status == "TIMED_OUT":
        return {"code": ErrorCode.TIMEOUT.value, "message": str(cause or "the execution exceeded its time-out"),
                "step": step}
    code = default_code if default_code in _CODES else ErrorCode.AGENT_ERROR.value
    if not error:
        return {"code": code, "message": str(cause or "the execution failed"), "step": step}
    found = failure_error(error, cause, step=step, default_code=code)
    found["message"] = _text(found["message"])
    return found


# --------------------------------------------------------------------------- record


def build_result_record(*, execution_arn: str, execution_name: str, workflow_name: str, execution_input: Any,
                        status: str, result: Any = None, error: Mapping[str, Any] | None = None,
                        started_at: str | None, completed_at: str | None) -> dict[str, Any]:
    """A result record (SPEC §5) with exactly :data:`RESULT_RECORD_FIELDS`, in order.

    Parameters
    ----------
    execution_arn, execution_name, workflow_name : str
        Which execution.
    execution_input : Any
        Its input (gives ``sessionId`` through :func:`record_session_id`).
    status : str
        ``"completed"`` or ``"failed"``.
    result : Any
        The workflow's result (kept only when ``completed``).
    error : dict, optional
        ``{"code", "message", "step"}`` (kept only when ``failed``).
    started_at, completed_at : str or None
        ISO 8601 times.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        When ``status`` is neither, or a failed record has no error.
    """
    if status not in (STATUS_COMPLETED, STATUS_FAILED):
        raise ValueError(f"a result record's status is 'completed' or 'failed', not {status!r}")
    if status == STATUS_FAILED and not error:
        raise ValueError("a failed result record needs an error {code, message, step}")
    values = {
        "executionArn": execution_arn,
        "executionName": execution_name,
        "workflowName": workflow_name,
        "sessionId": record_session_id(execution_input, execution_name),
        "status": status,
        "result": result if status == STATUS_COMPLETED else None,
        "error": dict(error) if status == STATUS_FAILED and error else None,
        "startedAt": started_at,
        "completedAt": completed_at,
    }
    return {name: values[name] for name in RESULT_RECORD_FIELDS}
