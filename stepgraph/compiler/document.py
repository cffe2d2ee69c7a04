"""The state document: where every value a compiled state reads lives, and how to read it back.

Step outputs travel in Step Functions **variables** (JSONata ``Assign``), one per step that some
later step reads; the state's own output (``$states.input`` of the next state) is only the
latest value, ``last``::

    $input     the execution input (SPEC §5)           assigned by the trigger state
    $trigger   the trigger object                      assigned by the trigger state
    $s_<id>    the output of step <id> (if read)       assigned by that step's state
    $i_<loop>  the current item of a loop              assigned by the body's entry state
    $n_<loop>  the current index of a loop             assigned by the body's entry state
    $error     {code, message, step} once failed       assigned by a Catch
    $states.input  the latest output (``last``): a step's input, at the end the workflow's result

Why variables: a variable holds up to 256 KiB and an execution 10 MiB (Step Functions developer
guide, "Passing data between states with variables"), while a state's input or output is capped
at 256 KiB — a document carrying every output through every state fails with
``States.DataLimitExceeded`` after a few large outputs. Inner Map/Parallel states read outer
variables but cannot assign them (SPEC §3's visibility rule is the same), so each variable is
assigned only in the scope its step runs in; a reference to a step that did not run on the path
taken reads ``null`` because every read variable of a scope is set to ``null`` at the scope's
entry. Distributed Map children see no variables at all: their Map's ``ItemSelector`` carries
what the body reads, and the body's entry assigns it under names prefixed with ``c`` (one per
distributed level), which no outer scope uses.

This module is the only owner of these names, of the JSONata that reads them
(:class:`Reader`) and of :func:`decode_exit`, which the local engine (and the HTTP API) use to
turn Step Functions' execution history into step events. Helper states (the result tail, a
decision after an approval …) have a space in their names, which no step id can contain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from ..expressions import jsonata

__all__ = [
    "INPUT",
    "TRIGGER",
    "ERROR",
    "LAST",
    "OFFLOAD_KEY",
    "step_variable",
    "item_variable",
    "index_variable",
    "Reader",
    "DocumentReader",
    "jsonata_string",
    "output_value",
    "initial_input",
    "initial_trigger",
    "session_id",
    "user_id",
    "is_step_state",
    "helper_state_name",
    "StateExit",
    "decode_exit",
    "parse_json",
]

#: Variable holding the execution input.
INPUT = "input"
#: Variable holding the trigger object.
TRIGGER = "trigger"
#: Variable a Catch assigns the ``{code, message, step}`` error object to.
ERROR = "error"
#: JSONata for the latest output (what a state received).
LAST = "$states.input"
#: Key of an offload reference (``lambdas/shared/stepgraph_offload.py``): ``{"offloaded": {s3_uri, size_bytes, sha256}, "preview"}``.
OFFLOAD_KEY = "offloaded"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _encoded(prefix: str, step_id: str) -> str:
    """``<prefix>_<id>``, or ``<prefix><mask>_<id with - as _>`` when the id holds ``-``.

    Step ids are ``[A-Za-z0-9_-]{1,64}`` (SPEC §3); Step Functions variable names are Unicode
    identifiers of at most 80 characters, so ``-`` cannot stay. ``<mask>`` is the base-36 bit
    mask of the positions that held ``-``: the mapping is one-to-one (no two ids share a name)
    and at most 1 + 13 + 1 + 64 = 79 characters long.
    """
    if "-" not in step_id:
        return f"{prefix}_{step_id}"
    mask = sum(1 << i for i, ch in enumerate(step_id) if ch == "-")
    digits = ""
    while mask:
        mask, rest = divmod(mask, 36)
        digits = _BASE36[rest] + digits
    return f"{prefix}{digits}_{step_id.replace('-', '_')}"


def step_variable(step_id: str) -> str:
    """Name of the variable holding a step's output (``s_agent``, ``s4_fan_out`` for ``fan-out``)."""
    return _encoded("s", step_id)


def item_variable(loop_id: str) -> str:
    """Name of the variable holding the current item of a loop's body."""
    return _encoded("i", loop_id)


def index_variable(loop_id: str) -> str:
    """Name of the variable holding the current index of a loop's body."""
    return _encoded("n", loop_id)


def jsonata_string(expression: str) -> str:
    """Wrap a JSONata expression as an ASL field value: ``{% expression %}``."""
    return "{% " + expression + " %}"


def output_value(value: str) -> str:
    """JSONata for a value that must not be undefined (undefined becomes ``null``)."""
    return f"($o := {value}; $exists($o) ? $o : null)"


@dataclass(frozen=True)
class Reader:
    """Where one state finds each root of an expression (SPEC §4), as JSONata.

    Attributes
    ----------
    trigger_id:
        The trigger step's id: ``steps.<trigger>.output`` is ``$trigger``.
    loop:
        The innermost loop whose body holds the state (``item``/``index`` are its), or ``None``.
    entry:
        ``"inline"``/``"distributed"`` when the state is the entry of that loop's body: its own
        variables are not assigned yet, so it reads the item, index and (distributed) the carried
        values from its input, the Map's ``ItemSelector``. ``None`` elsewhere.
    depth:
        How many distributed bodies enclose the state; values from outside the innermost one are
        read under names prefixed with ``c`` that many times.
    local:
        Ids of the steps inside the innermost distributed body (read under their own names);
        ``None`` outside any.
    own:
        The reading step, when it reads its own output: that has not run yet, so it reads ``null``.
    """

    trigger_id: str | None = None
    loop: str | None = None
    entry: str | None = None
    depth: int = 0
    local: frozenset[str] | None = None
    own: str | None = None

    def carried_name(self, name: str) -> str:
        """Name a value from outside the innermost distributed body has inside it."""
        return "c" * self.depth + name

    def _outer(self, name: str, selector_path: str) -> str:
        if self.depth == 0:
            return f"${name}"
        if self.entry == "distributed":
            return f"$states.input.{selector_path}"
        return f"${self.carried_name(name)}"

    def input(self) -> str:
        """JSONata of the execution input."""
        return self._outer(INPUT, INPUT)

    def trigger(self) -> str:
        """JSONata of the trigger object."""
        return self._outer(TRIGGER, TRIGGER)

    def step(self, step_id: str) -> str:
        """JSONata of a step's output."""
        if step_id == self.trigger_id:
            return self.trigger()
        if step_id == self.own:
            return "$lookup({}, '')"  # undefined: a reference wraps it as null
        name = step_variable(step_id)
        if self.local is None or step_id in self.local:
            return f"${name}"
        return self._outer(name, f"{STEPS_KEY}.`{step_id}`")

    def item(self) -> str:
        """JSONata of the current loop item."""
        return "$states.input.item" if self.entry else f"${item_variable(self.loop or '')}"

    def index(self) -> str:
        """JSONata of the current loop index."""
        return "$states.input.index" if self.entry else f"${index_variable(self.loop or '')}"

    def last(self) -> str:
        """JSONata of the latest output (a step's input)."""
        return "$states.input.item" if self.entry else LAST


#: Key of the carried outer step outputs in a distributed body's ``ItemSelector``.
STEPS_KEY = "steps"


class DocumentReader(Reader):
    """Reads a standalone state document ``{"input", "trigger", "steps", "last", "item", "index"}``.

    ``$states.input`` is that document. Used when an expression is compiled on its own
    (:func:`stepgraph.expressions.compile_condition` without a reader), e.g. to evaluate it
    against a document in a test or a tool; compiled workflows use :class:`Reader`.
    """

    def input(self) -> str:
        return "$states.input.input"

    def trigger(self) -> str:
        return "$states.input.trigger"

    def step(self, step_id: str) -> str:
        return f"$states.input.steps.`{step_id}`"

    def item(self) -> str:
        return "$states.input.item"

    def index(self) -> str:
        return "$states.input.index"

    def last(self) -> str:
        return "$states.input.last"


def initial_input(fixed_input: Any = None) -> str:
    """JSONata of the execution input as the trigger state assigns it (an object; a schedule's
    fixed ``input`` fills what the execution input lacks)."""
    execution_input = "($type($states.input) = 'object' ? $states.input : {})"
    if fixed_input:
        execution_input = f"$merge([{jsonata(fixed_input)}, {execution_input}])"
    return execution_input


def initial_trigger() -> str:
    """JSONata of the trigger object: a missing or non-object ``trigger`` means ``{"kind": "api"}`` (SPEC §5)."""
    return "($t := $states.input.trigger; $type($t) = 'object' ? $t : {\"kind\": \"api\"})"


def session_id(reader: Reader | None = None) -> str:
    """JSONata for an execution's session id (SPEC §5, §6): ``input.session_id``, else
    ``input.sessionId`` (the chaining shape), else the execution name.

    The rule is :func:`stepgraph_runtime.records.record_session_id`'s, rendered by its JSONata
    twin; both the result record's ``sessionId`` and the AgentCore runtime session derive from it.
    """
    from stepgraph_runtime.records import session_id_jsonata

    return session_id_jsonata((reader or Reader()).input(), "$states.context.Execution.Name")


def user_id(reader: Reader | None = None) -> str:
    """JSONata for the execution's ``input.user_id`` when it is a non-empty string, else ``null``.

    Sent to AgentCore as ``runtimeUserId`` (SPEC §6).
    """
    value = f"{(reader or Reader()).input()}.user_id"
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


def decode_exit(name: str, output_text: str | None, assigned: Mapping[str, str] | None = None) -> StateExit:
    """Decode a step state's exit (a ``...StateExited`` history event) into the step's result.

    Parameters
    ----------
    name:
        The state's name (a step id).
    output_text:
        The event's ``output``: the state's output, which is the step's own output (a condition
        or a delay passes its input on, which is its output too).
    assigned:
        The event's ``assignedVariables`` (name → JSON text): a state whose Catch assigned
        ``error`` failed, with that error object.
    """
    if assigned and ERROR in assigned:
        return StateExit("failed", error=parse_json(assigned[ERROR]))
    return StateExit("complete", output=parse_json(output_text))
