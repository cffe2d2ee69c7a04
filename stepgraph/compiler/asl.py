"""Amazon States Language vocabulary: state types, helper state names, shared JSONata pieces."""

from __future__ import annotations

from enum import Enum

from ..errors import ErrorCode
from ..expressions import jsonata

__all__ = ["StateType", "HelperState", "jsonata_string", "merge_step_output", "error_object"]


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
    """Names of the states the compiler adds after the steps.

    They contain a space, which a step id cannot, so they never collide with step names.
    """

    RECORD_RESULT = "Record result"
    STORE_RESULT = "Store result"
    PUBLISH_RESULT = "Publish result"
    FINISHED = "Check status"
    SUCCEEDED = "Execution succeeded"
    FAILED = "Execution failed"


#: The six codes of SPEC §7, as a JSONata array literal.
_CODES = jsonata([c.value for c in ErrorCode])


def jsonata_string(expression: str) -> str:
    """Wrap a JSONata expression as an ASL field value: ``{% expression %}``."""
    return "{% " + expression + " %}"


def merge_step_output(step_id: str, value: str) -> str:
    """JSONata for the state document after ``step_id`` produced ``value``.

    The document keeps every step's output under ``steps.<step_id>`` and the latest one under
    ``last`` (the input of the next step and, at the end, the workflow's result). A value that
    is undefined becomes ``null``.
    """
    return (
        f"($o := {value}; $out := $exists($o) ? $o : null; "
        f"$merge([$states.input, {{\"steps\": $merge([$states.input.steps, {{{jsonata(step_id)}: $out}}]), \"last\": $out}}]))"
    )


def output_value(value: str) -> str:
    """JSONata for a value that must not be undefined (undefined becomes ``null``)."""
    return f"($o := {value}; $exists($o) ? $o : null)"


def error_object(step_id: str, default_code: str) -> str:
    """JSONata turning ``$states.errorOutput`` into ``{"code", "message", "step"}`` (SPEC §5).

    The code is kept when it is one of the six codes; ``States.Timeout`` and
    ``States.HeartbeatTimeout`` become ``TIMEOUT``; Lambda throttling becomes ``RATE_LIMIT``;
    anything else becomes ``default_code`` with the original error name in the message.
    A ``Cause`` that is JSON (a Lambda error, or an error re-raised from a loop body or a
    parallel branch) gives the message and, when present, the failing step.
    """
    return (
        "($e := $states.errorOutput; $err := $e.Error; $c := $e.Cause; "
        "$p := ($type($c) = 'string' and $substring($c, 0, 1) = '{' and $substring($c, -1) = '}') ? $parse($c) : null; "
        "$msg := $p.errorMessage ? $p.errorMessage : ($p.message ? $p.message : ($c ? $c : $err)); "
        f"$known := $err in {_CODES}; "
        "$code := $known ? $err : "
        "($err in ['States.Timeout', 'States.HeartbeatTimeout'] ? 'TIMEOUT' : "
        f"($err = 'Lambda.TooManyRequestsException' ? 'RATE_LIMIT' : {jsonata(default_code)})); "
        "{\"code\": $code, "
        "\"message\": ($known or $code = 'TIMEOUT' or $code = 'RATE_LIMIT') ? $msg : ($err & ': ' & $msg), "
        f"\"step\": $p.step ? $p.step : {jsonata(step_id)}}})"
    )
