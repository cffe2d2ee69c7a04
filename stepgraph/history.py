"""Step events derived from a Step Functions execution history (shared by the local engine and the HTTP API).

Step Functions' own history is the one record of what an execution did: the local engine
streams it to the terminal (``stepgraph run``) and the HTTP API (:mod:`stepgraph.api`) turns it
into execution views and Server-Sent Events. Both convert each history event with
:func:`convert_history_event`, so they agree on what a step start, completion, failure or retry is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .compiler.document import decode_exit, is_step_state, parse_json

__all__ = ["StepEvent", "convert_history_event", "parse_json", "is_helper_state"]


@dataclass(frozen=True)
class StepEvent:
    """Something that happened during an execution, derived from Step Functions' history.

    Attributes
    ----------
    kind:
        ``step_start``, ``step_complete``, ``step_failed``, ``step_retry`` (a task attempt failed
        and will be retried or caught), ``status`` (execution status change), ``record`` (helper
        states) or ``chained`` (a downstream workflow started by ``on_complete``; ``name`` is it).
    name:
        State name (a step id, or a helper state such as ``Store result``).
    timestamp:
        When Step Functions recorded it (UTC).
    detail:
        Kind-specific data: ``output`` for ``step_complete``, ``error``/``cause`` for
        ``step_retry``, ``status`` for ``status``.
    trace_id:
        The execution's W3C trace id, the one its agents receive in ``traceparent``
        (:func:`stepgraph_runtime.trace.traceparent_for_execution`; deployed, the X-Ray trace).
    """

    kind: str
    name: str
    timestamp: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"event", "step", "timestamp", "trace_id", ...detail}``."""
        trace = {"trace_id": self.trace_id} if self.trace_id else {}
        return {"event": self.kind, "step": self.name, "timestamp": self.timestamp.isoformat(), **trace, **self.detail}


def is_helper_state(name: str) -> bool:
    """True for the compiler's helper states (``Store result`` …), not steps
    (:func:`stepgraph.compiler.document.is_step_state`)."""
    return not is_step_state(name)


def convert_history_event(event: dict[str, Any]) -> StepEvent | None:
    """Convert one ``GetExecutionHistory`` event to a :class:`StepEvent` (``None`` when it says nothing new).

    Parameters
    ----------
    event:
        One element of ``GetExecutionHistory``'s ``events`` (``type``, ``timestamp``, ``*EventDetails``).

    Returns
    -------
    StepEvent or None
        ``step_start`` for ``*StateEntered`` (``record`` for helper states), ``step_complete`` for
        ``*StateExited`` with the step's own output (``step_failed`` when the state's Catch assigned
        ``$error``), ``step_retry`` for a failed task attempt, ``status`` for the execution's end.
    """
    kind: str = event["type"]
    ts: datetime = event["timestamp"]
    if kind.endswith("StateEntered"):
        name = event["stateEnteredEventDetails"]["name"]
        return StepEvent("step_start" if not is_helper_state(name) else "record", name, ts)
    if kind.endswith("StateExited"):
        details = event["stateExitedEventDetails"]
        name = details["name"]
        if is_helper_state(name):
            return None
        exit_ = decode_exit(name, details.get("output"), details.get("assignedVariables"))  # the state document's one owner reads it
        if exit_.kind == "failed":
            return StepEvent("step_failed", name, ts, {"error": exit_.error})
        return StepEvent("step_complete", name, ts, {"output": exit_.output})
    if kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut"):
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        return StepEvent("step_retry", "", ts, {"error": details.get("error"), "cause": details.get("cause")})
    if kind.startswith("Execution") and kind != "ExecutionStarted":
        return StepEvent("status", "", ts, {"status": kind.removeprefix("Execution").lower()})
    return None
