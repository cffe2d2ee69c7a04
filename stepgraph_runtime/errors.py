"""The six error codes of SPEC §7 and the exceptions whose class name is the code.

Lambda reports ``type(exc).__name__`` as ``errorType``, and Step Functions matches ``Retry`` /
``Catch`` ``ErrorEquals`` against it, so an exception class *named* ``AGENT_ERROR`` fails the
step with code ``AGENT_ERROR``. Every handler raises these classes; none defines its own copy.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = [
    "AGENT_ERROR",
    "APPROVAL_REJECTED",
    "ErrorCode",
    "RATE_LIMIT",
    "RETRYABLE_BY_DEFAULT",
    "StepError",
    "TIMEOUT",
    "TOOL_ERROR",
    "VALIDATION_ERROR",
    "error_class",
]


class ErrorCode(str, Enum):
    """The six error codes of the workflow format (SPEC §7)."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    AGENT_ERROR = "AGENT_ERROR"
    TOOL_ERROR = "TOOL_ERROR"
    TIMEOUT = "TIMEOUT"
    APPROVAL_REJECTED = "APPROVAL_REJECTED"
    RATE_LIMIT = "RATE_LIMIT"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


#: Codes a step's ``retry`` policy retries: transient by nature. ``VALIDATION_ERROR``,
#: ``TOOL_ERROR`` (a tool's own refusal) and ``APPROVAL_REJECTED`` are final.
RETRYABLE_BY_DEFAULT: tuple[str, ...] = (
    ErrorCode.RATE_LIMIT.value,
    ErrorCode.AGENT_ERROR.value,
    ErrorCode.TIMEOUT.value,
)


class StepError(Exception):
    """Base class of the errors a handler raises to fail its step with a code.

    The class *name* of each subclass is the code (``code`` repeats it). Handlers attach what
    they know as keyword arguments; the attributes below default to ``None``.

    Parameters
    ----------
    message : str
        Human-readable sentence (becomes Lambda's ``errorMessage``).
    step_id : str, optional
        The workflow step that failed.
    **details
        Context attached as attributes: ``agent_id``, ``aws_code`` (the AWS error code or botocore
        exception it was converted from), ``tool``, ``status_code`` (HTTP), ``retry_after`` …

    Examples
    --------
    >>> err = AGENT_ERROR("agent 'a' failed", step_id="agent", aws_code="RuntimeClientError")
    >>> type(err).__name__, err.code, err.step_id, err.aws_code
    ('AGENT_ERROR', 'AGENT_ERROR', 'agent', 'RuntimeClientError')
    """

    code = "STEP_ERROR"
    step_id: str | None = None
    agent_id: str | None = None
    aws_code: str | None = None
    tool: str | None = None
    status_code: int | None = None
    retry_after: str | None = None

    def __init__(self, message: str, *, step_id: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.step_id = step_id
        for name, value in details.items():
            setattr(self, name, value)

    def with_message(self, message: str) -> "StepError":
        """Replace the message (and ``args``, which Lambda reports) in place; return ``self``."""
        self.message = message
        self.args = (message,)
        return self


class AGENT_ERROR(StepError):  # noqa: N801 - the class name is the Step Functions error code
    """The runtime or the agent's container failed, refused the call, or answered a malformed or cut-short body."""

    code = ErrorCode.AGENT_ERROR.value


class TOOL_ERROR(StepError):  # noqa: N801 - the class name is the Step Functions error code
    """A tool or an HTTP request failed for good (the tool raised, a 4xx answer, a refused address …)."""

    code = ErrorCode.TOOL_ERROR.value


class TIMEOUT(StepError):  # noqa: N801 - the class name is the Step Functions error code
    """No (complete) answer within the step's ``timeout_seconds``."""

    code = ErrorCode.TIMEOUT.value


class RATE_LIMIT(StepError):  # noqa: N801 - the class name is the Step Functions error code
    """The service throttled the call; retrying later usually succeeds."""

    code = ErrorCode.RATE_LIMIT.value


class VALIDATION_ERROR(StepError, ValueError):  # noqa: N801 - the class name is the Step Functions error code
    """The event or a value in it cannot be used (missing fields, a forged offload reference …); not retried."""

    code = ErrorCode.VALIDATION_ERROR.value


class APPROVAL_REJECTED(StepError):  # noqa: N801 - the class name is the Step Functions error code
    """An approver rejected the request."""

    code = ErrorCode.APPROVAL_REJECTED.value


_BY_CODE: dict[str, type[StepError]] = {
    cls.code: cls for cls in (AGENT_ERROR, TOOL_ERROR, TIMEOUT, RATE_LIMIT, VALIDATION_ERROR, APPROVAL_REJECTED)
}


def error_class(code: str | ErrorCode) -> type[StepError]:
    """The exception class of a code.

    Raises
    ------
    KeyError
        When ``code`` is not one of the six codes.

    Examples
    --------
    >>> error_class("TIMEOUT").__name__
    'TIMEOUT'
    """
    return _BY_CODE[str(code.value if isinstance(code, ErrorCode) else code)]
