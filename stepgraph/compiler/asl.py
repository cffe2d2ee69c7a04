"""Amazon States Language vocabulary: state types, helper state names, the error mapping."""

from __future__ import annotations

from enum import Enum

from ..errors import ErrorCode
from ..expressions import jsonata
from .document import jsonata_string, output_value

__all__ = ["StateType", "HelperState", "RECORD_STATES", "jsonata_string", "output_value", "error_object"]


class StateType(str, Enum):
    """ASL ``Type`` values (Amazon States Language specification, "States")."""

    PASS = "Pass"
    TASK = "Task"
    CHOICE = "Choice"
    WAIT = "Wait"
    SUCCEED = "Succeed"
    FAIL = "Fail"
    PARALLEL = "Parallel"
    MAP = "Map"


class HelperState(str, Enum):
    """Names of the states the compiler adds after the steps (the result tail, SPEC §5).

    They contain a space, which a step id cannot, so they never collide with step names. A run
    that completes passes ``Store result`` → ``Publish result`` (which ends it); a run that
    fails passes ``Store failure`` → ``Publish failure`` → ``Execution failed``.
    """

    STORE_RESULT = "Store result"
    PUBLISH_RESULT = "Publish result"
    STORE_FAILURE = "Store failure"
    PUBLISH_FAILURE = "Publish failure"
    FAILED = "Execution failed"


#: The states whose output is the execution's result record (SPEC §5), one per tail.
RECORD_STATES = frozenset({HelperState.STORE_RESULT.value, HelperState.STORE_FAILURE.value})


#: The six codes of SPEC §7, as a JSONata array literal.
_CODES = jsonata([c.value for c in ErrorCode])


def error_object(step_id: str, default_code: str) -> str:
    """JSONata turning ``$states.errorOutput`` into ``{"code", "message", "step"}`` (SPEC §5).

    The code is kept when it is one of the six codes; ``States.Timeout`` and
    ``States.HeartbeatTimeout`` become ``TIMEOUT``; Lambda throttling becomes ``RATE_LIMIT``;
    anything else becomes ``default_code`` with the original error name in the message.
    A ``Cause`` that is JSON (a Lambda error, or an error re-raised from a loop body or a
    parallel branch) gives the message and, when present, the failing step. A nested
    execution's failure (``startExecution.sync``: ``States.TaskFailed`` whose ``Cause`` is the
    child's DescribeExecution) is read through to the child's own ``Error`` and ``Cause``.
    """
    return (
        "($e := $states.errorOutput; $err0 := $e.Error; $c0 := $e.Cause; "
        "$p0 := ($type($c0) = 'string' and $substring($c0, 0, 1) = '{' and $substring($c0, -1) = '}') ? $parse($c0) : null; "
        # a nested execution (subflow) that failed: its DescribeExecution, with the child's own Error and Cause
        "$nested := $type($p0) = 'object' and $exists($p0.ExecutionArn) and $exists($p0.Error); "
        "$err := $nested ? $p0.Error : $err0; $c := $nested ? $p0.Cause : $c0; "
        "$p := $nested ? null : $p0; "
        "$msg := $p.errorMessage ? $p.errorMessage : ($p.message ? $p.message : ($c ? $c : $err)); "
        "$msg := $nested ? ('nested execution ' & $p0.Name & ' failed: ' & $msg) : $msg; "
        f"$known := $err in {_CODES}; "
        "$code := $known ? $err : "
        "($err in ['States.Timeout', 'States.HeartbeatTimeout'] ? 'TIMEOUT' : "
        f"($err = 'Lambda.TooManyRequestsException' ? 'RATE_LIMIT' : {jsonata(default_code)})); "
        "{\"code\": $code, "
        "\"message\": ($known or $code = 'TIMEOUT' or $code = 'RATE_LIMIT') ? $msg : ($err & ': ' & $msg), "
        f"\"step\": $p.step ? $p.step : {jsonata(step_id)}}})"
    )
