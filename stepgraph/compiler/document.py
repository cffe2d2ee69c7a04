"""The state document: the one JSON value every compiled state reads and writes, and how to read it back.

Every state of a compiled workflow (JSONata query language) takes and gives one document::

    {"input": <execution input>, "trigger": <trigger object>,
     "steps": {"<step_id>": <output>, ...}, "last": <latest output>,
     "item": <loop item>, "index": <loop index>, "error": <error object, once failed>}

This module is its only owner: the field names, the JSONata that reads and extends it, and the
decoding of a state's exit that the local engine (and the HTTP API) use to turn Step Functions'
execution history into step events. Helper states (the result tail, a decision after an
approval …) have a space in their names, which no step id can contain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..expressions import jsonata

__all__ = [
    "INPUT",
    "TRIGGER",
    "STEPS",
    "LAST",
    "ITEM",
    "INDEX",
    "ERROR",
    "CURRENT",
    "field",
    "jsonata_string",
    "merge_step_output",
    "output_value",
    "with_error",
    "session_id",
    "user_id",
    "is_step_state",
    "helper_state_name",
    "StateExit",
    "decode_exit",
    "parse_json",
]

INPUT = "input"
TRIGGER = "trigger"
STEPS = "steps"
LAST = "last"
ITEM = "item"
INDEX = "index"
ERROR = "error"
#: JSONata for the whole document a state received.
CURRENT = "$states.input"


def field(name: str) -> str:
    """JSONata reading one top-level field of the document (``$states.input.<name>``)."""
    return f"{CURRENT}.{name}"


def jsonata_string(expression: str) -> str:
    """Wrap a JSONata expression as an ASL field value: ``{% expression %}``."""
    return "{% " + expression + " %}"


def merge_step_output(step_id: str, value: str) -> str:
    """JSONata for the document after ``step_id`` produced ``value``.

    The document keeps every step's output under ``steps.<step_id>`` and the latest one under
    ``last`` (the input of the next step and, at the end, the workflow's result). A value that
    is undefined becomes ``null``.
    """
    return (
        f"($o := {value}; $out := $exists($o) ? $o : null; "
        f"$merge([{CURRENT}, {{{jsonata(STEPS)}: $merge([{field(STEPS)}, {{{jsonata(step_id)}: $out}}]), {jsonata(LAST)}: $out}}]))"
    )


def output_value(value: str) -> str:
    """JSONata for a value that must not be undefined (undefined becomes ``null``)."""
    return f"($o := {value}; $exists($o) ? $o : null)"


def with_error(error: str, *, keep_document: bool) -> str:
    """JSONata for the document (or, in a sub-scope, just ``{"error"}``) carrying ``error``."""
    if keep_document:
        return f"$merge([{CURRENT}, {{{jsonata(ERROR)}: {error}}}])"
    return f"{{{jsonata(ERROR)}: {error}}}"


def initial(trigger_step_id: str, *, fixed_input: Any = None) -> str:
    """JSONata building the document from the execution input (the trigger state's ``Output``).

    A missing or non-object ``trigger`` means ``{"kind": "api"}`` (SPEC §5); a trigger's fixed
    ``input`` (a schedule's) fills what the execution input lacks.
    """
    trigger = f"($t := {field(TRIGGER)}; $exists($t) and $type($t) = 'object' ? $t : {{\"kind\": \"api\"}})"
    execution_input = f"($type({CURRENT}) = 'object' ? {CURRENT} : {{}})"
    if fixed_input:
        execution_input = f"$merge([{jsonata(fixed_input)}, {execution_input}])"
    return (
        f"($trigger := {trigger}; "
        f"{{{jsonata(INPUT)}: {execution_input}, {jsonata(TRIGGER)}: $trigger, "
        f"{jsonata(STEPS)}: {{{jsonata(trigger_step_id)}: $trigger}}, {jsonata(LAST)}: $trigger}})"
    )


def session_id() -> str:
    """JSONata for an execution's session id (SPEC §5, §6): ``input.session_id``, else
    ``input.sessionId`` (the chaining shape), else the execution name.

    The rule is :func:`stepgraph_runtime.records.record_session_id`'s, rendered by its JSONata
    twin; both the result record's ``sessionId`` and the AgentCore runtime session derive from it.
    """
    from stepgraph_runtime.records import session_id_jsonata

    return session_id_jsonata(field(INPUT), "$states.context.Execution.Name")


def user_id() -> str:
    """JSONata for the execution's ``input.user_id`` when it is a non-empty string, else ``null``.

    Sent to AgentCore as ``runtimeUserId`` (SPEC §6).
    """
    value = f"{field(INPUT)}.user_id"
    return f"($u := {value}; $type($u) = 'string' and $length($u) > 0 ? $u : null)"


def helper_state_name(step_id: str, suffix: str) -> str:
    """Name of a helper state that belongs to a step: ``<step_id> (<suffix>)``."""
    return f"{step_id} ({suffix})"


def is_step_state(name: str) -> bool:
    """True when a state is a step of the workflow (its name is a step id), not a helper state."""
    return " " not in name


@dataclass(frozen=True)
class StateExit:
    """What a step state's exit says: ``kind`` is ``complete`` (with ``output``) or ``failed`` (with ``error``)."""

    kind: str
    output: Any = None
    error: Any = None


def parse_json(text: str | None) -> Any:
    """Decode a JSON string from the history; text that is not JSON is returned as is (``None`` stays ``None``)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def decode_exit(name: str, output_text: str | None) -> StateExit:
    """Decode the output of a step state (a ``...StateExited`` history event) into the step's result.

    In the main graph the state's output is the whole document: the step's own output sits at
    ``steps.<name>``, a failure at ``error``, and a state that passes its input on (a condition)
    has it at ``last``. At the end of a loop body or branch the output is the bare value.
    """
    output = parse_json(output_text)
    if isinstance(output, dict) and isinstance(output.get(STEPS), dict) and name in output[STEPS]:
        return StateExit("complete", output=output[STEPS][name])
    if isinstance(output, dict) and ERROR in output and STEPS in output:
        return StateExit("failed", error=output[ERROR])
    if isinstance(output, dict) and STEPS in output and LAST in output:
        return StateExit("complete", output=output[LAST])
    return StateExit("complete", output=output)
