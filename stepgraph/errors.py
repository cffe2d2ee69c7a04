"""Error codes shared by validation, the compiled state machines and the Lambda handlers.

The codes are the ``Error`` names that ``Retry``/``Catch`` match in the compiled Amazon States
Language and the ``error.code`` of a failed result record (SPEC §7). Lambda handlers raise
exceptions whose *class name* is the code, because Lambda reports ``type(exc).__name__`` as
``errorType`` and Step Functions matches ``ErrorEquals`` against it.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["ErrorCode", "RETRYABLE_BY_DEFAULT"]


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
