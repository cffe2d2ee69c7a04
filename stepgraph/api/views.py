"""Execution views and stream events, both derived from Step Functions' own execution history.

There is no second store of execution state: ``GET /api/executions/{id}`` and
``GET /api/executions/{id}/stream`` read ``DescribeExecution`` and ``GetExecutionHistory`` and
feed every history event to one :class:`ExecutionTracker`, which converts it with the local
engine's own conversion (:func:`stepgraph.history.convert_history_event`) and keeps what the view
needs. Statuses (SPEC §7):

=========  ==============================================================================
pending    ``RUNNING`` and no state entered yet
running    ``RUNNING``
waiting    ``RUNNING`` with a ``human_approval`` task waiting for its token
completed  ``SUCCEEDED``
failed     ``FAILED`` (any code but ``TIMEOUT``) or ``PENDING_REDRIVE``
cancelled  ``ABORTED`` (and, on the local emulator, which reports a stop as ``FAILED``, a
           failure whose error is the stop's ``Aborted``)
timeout    ``TIMED_OUT``, or ``FAILED`` with code ``TIMEOUT`` (a step or an approval timed out)
=========  ==============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from ..compiler.asl import RECORD_STATES
from ..history import convert_history_event, is_helper_state, parse_json
from ..model import Workflow

__all__ = [
    "CANCEL_ERROR",
    "ExecutionTracker",
    "StreamCursor",
    "api_status",
    "execution_id",
    "fetch_history",
    "split_execution_id",
]

#: The ``error`` given to ``StopExecution`` by ``POST /api/executions/{id}/cancel`` (and by the engine).
CANCEL_ERROR = "Aborted"
_WAIT_RESOURCE = "invoke.waitForTaskToken"
_TASK_ENDS = ("TaskSucceeded", "TaskFailed", "TaskTimedOut")


def execution_id(workflow_name: str, execution_name: str) -> str:
    """The API's id of an execution: ``"<workflow>:<execution name>"`` (neither part can hold ``:``)."""
    return f"{workflow_name}:{execution_name}"


def split_execution_id(value: str) -> tuple[str, str] | None:
    """``(workflow, execution name)`` of an execution id, or ``None`` when it is not one."""
    workflow, sep, name = value.partition(":")
    if not sep or not workflow or not name or ":" in name or len(name) > 80:
        return None
    return workflow, name


def iso(value: datetime | None) -> str | None:
    """ISO-8601 text of a timestamp (``None`` stays ``None``)."""
    return value.isoformat() if value is not None else None


def api_status(sfn_status: str, *, error: str | None = None, state_entered: bool = True, waiting: bool = False) -> str:
    """Map a Step Functions status to one of the seven API statuses (see the module's table)."""
    if sfn_status == "RUNNING":
        return "waiting" if waiting else "running" if state_entered else "pending"
    if sfn_status == "SUCCEEDED":
        return "completed"
    if sfn_status == "TIMED_OUT" or (sfn_status == "FAILED" and error == "TIMEOUT"):
        return "timeout"
    if sfn_status == "ABORTED" or (sfn_status == "FAILED" and error == CANCEL_ERROR):
        return "cancelled"
    return "failed"


def fetch_history(sfn: Any, execution_arn: str, *, after: int = 0) -> list[dict[str, Any]]:
    """History events with an id above ``after``, oldest first.

    Reads newest first (``reverseOrder``) and stops at the first page that reaches ``after``, so
    following a growing history costs one page per look, not the whole history.
    """
    fresh: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000, "reverseOrder": True}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        events = page.get("events", [])
        fresh += [e for e in events if e["id"] > after]
        token = page.get("nextToken")
        # a page that reaches an event already seen ends the look (moto 5.2.5 ignores
        # reverseOrder and returns one ascending page: the filter above still holds)
        if any(e["id"] <= after for e in events) or not token:
            break
    fresh.sort(key=lambda e: e["id"])
    return fresh


@dataclass(frozen=True, order=True)
class StreamCursor:
    """Where a stream is: the last history event id and sub-event delivered, the last delta's ``seq``.

    Its text, ``"<history id>.<sub-event>.<delta seq>"``, is every SSE event's ``id:``; a client
    that reconnects with it as ``Last-Event-ID`` gets exactly what it has not seen yet.
    """

    history_id: int = 0
    sub: int = -1
    delta_seq: int = 0

    def __str__(self) -> str:
        return f"{self.history_id}.{self.sub}.{self.delta_seq}"

    @classmethod
    def parse(cls, text: str | None) -> "StreamCursor":
        """Read a ``Last-Event-ID``.

        Raises
        ------
        ValueError
            When it is not three dot-separated integers.
        """
        if not text:
            return cls()
        parts = text.strip().split(".")
        if len(parts) != 3:
            raise ValueError(f"Last-Event-ID {text!r} is not <history id>.<sub-event>.<delta seq>")
        try:
            history_id, sub, delta_seq = (int(p) for p in parts)
        except ValueError as exc:
            raise ValueError(f"Last-Event-ID {text!r} is not <history id>.<sub-event>.<delta seq>") from exc
        if history_id < 0 or sub < -1 or delta_seq < 0:
            raise ValueError(f"Last-Event-ID {text!r} has a negative part")
        return cls(history_id, sub, delta_seq)


@dataclass
class _Step:
    step_id: str
    status: str = "running"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0

    def view(self) -> dict[str, Any]:
        return {"step_id": self.step_id, "status": self.status, "started_at": iso(self.started_at),
                "completed_at": iso(self.completed_at), "result": self.result, "error": self.error,
                "attempts": self.attempts}


@dataclass
class ExecutionTracker:
    """Follows one execution's history and says what each event means to the API.

    Parameters
    ----------
    workflow:
        The workflow model (step types name ``tool_call`` steps); ``None`` when unknown.

    Attributes
    ----------
    steps:
        Step state by step id, in the order steps started.
    waiting_steps:
        Ids of ``human_approval`` steps whose task waits for its token.
    record:
        The result record (the output of ``Store result`` or ``Store failure``), once written.
    end:
        ``(sfn status, error, cause, timestamp)`` once the execution ended.
    last_id:
        The id of the last history event fed.
    """

    workflow: Workflow | None = None
    steps: dict[str, _Step] = field(default_factory=dict)
    waiting_steps: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    end: tuple[str, str | None, str | None, datetime] | None = None
    state_entered: bool = False
    last_id: int = 0
    _current_task: str | None = None

    def _step_type(self, step_id: str) -> str | None:
        if self.workflow is None:
            return None
        step = self.workflow.steps_by_id.get(step_id)
        return step.step_type.value if step is not None else None

    def _tool(self, step_id: str) -> str | None:
        if self.workflow is None or step_id not in self.workflow.steps_by_id:
            return None
        return str(self.workflow.steps_by_id[step_id].param("tool"))

    def feed_all(self, events: Iterable[dict[str, Any]]) -> None:
        """Feed events without keeping their stream events."""
        for event in events:
            self.feed(event)

    def feed(self, event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Take one history event; return the stream events it makes, as ``(event name, data)``.

        Names: ``status``, ``step_start``, ``step_complete``, ``tool_call``, ``tool_result``,
        ``error``, ``complete``. Every data object carries ``timestamp``.
        """
        self.last_id = max(self.last_id, int(event["id"]))
        kind: str = event["type"]
        ts: datetime = event["timestamp"]
        stamp = {"timestamp": iso(ts)}
        out: list[tuple[str, dict[str, Any]]] = []
        if kind == "ExecutionStarted":
            return [("status", {"status": "running", **stamp})]
        if kind == "TaskScheduled":
            details = event.get("taskScheduledEventDetails", {})
            step_id = self._current_task
            if details.get("resource") == _WAIT_RESOURCE and step_id:
                self.waiting_steps.append(step_id)
                if step_id in self.steps:
                    self.steps[step_id].status = "waiting"
                return [("status", {"status": "waiting", "step_id": step_id, **stamp})]
            if step_id and self._step_type(step_id) == "tool_call":
                parameters = parse_json(details.get("parameters"))
                payload = parameters.get("Payload") if isinstance(parameters, dict) else None
                arguments = payload.get("arguments") if isinstance(payload, dict) else None
                return [("tool_call", {"step_id": step_id, "tool": self._tool(step_id), "arguments": arguments, **stamp})]
            return []
        if kind in _TASK_ENDS:
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            if details.get("resource") == _WAIT_RESOURCE and self.waiting_steps:
                step_id = self.waiting_steps.pop(0)
                if step_id in self.steps and self.steps[step_id].status == "waiting":
                    self.steps[step_id].status = "running"
                out.append(("status", {"status": "running", "step_id": step_id, **stamp}))
        if kind.endswith("StateExited") and event["stateExitedEventDetails"]["name"] in RECORD_STATES:
            record = parse_json(event["stateExitedEventDetails"].get("output"))
            self.record = record if isinstance(record, dict) else None
        converted = convert_history_event(event)
        if converted is None:
            return out
        if converted.kind == "step_start":
            self.state_entered = True
            step = self.steps.setdefault(converted.name, _Step(converted.name, started_at=ts))
            step.status, step.completed_at, step.attempts = "running", None, step.attempts + 1
            if kind == "TaskStateEntered":
                self._current_task = converted.name
            out.append(("step_start", {"step_id": converted.name, "step_type": self._step_type(converted.name), **stamp}))
        elif converted.kind == "record":
            self.state_entered = True
        elif converted.kind == "step_complete":
            step = self.steps.setdefault(converted.name, _Step(converted.name, started_at=ts))
            result = converted.detail.get("output")
            step.status, step.completed_at, step.result, step.error = "completed", ts, result, None
            out.append(("step_complete", {"step_id": converted.name, "result": result, **stamp}))
            if self._step_type(converted.name) == "tool_call":
                out.append(("tool_result", {"step_id": converted.name, "tool": self._tool(converted.name), "result": result, **stamp}))
        elif converted.kind == "step_failed":
            step = self.steps.setdefault(converted.name, _Step(converted.name, started_at=ts))
            error = converted.detail.get("error")
            step.status, step.completed_at, step.error = "failed", ts, error if isinstance(error, dict) else {"message": str(error)}
            out.append(("error", {"step_id": converted.name, "error": step.error, "final": True, **stamp}))
        elif converted.kind == "step_retry":
            step_id = self._current_task
            error = {"code": converted.detail.get("error"), "message": converted.detail.get("cause")}
            out.append(("error", {"step_id": step_id, "error": error, "final": False, **stamp}))
        elif converted.kind == "status":
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            sfn_status = {"succeeded": "SUCCEEDED", "failed": "FAILED", "aborted": "ABORTED",
                          "timedout": "TIMED_OUT"}.get(converted.detail["status"], "FAILED")
            self.end = (sfn_status, details.get("error"), details.get("cause"), ts)
            self.waiting_steps.clear()
            status = self.status("ABORTED" if sfn_status == "ABORTED" else sfn_status)
            out.append(("status", {"status": status, **stamp}))
            out.append(("complete", {"status": status, "result": self.result, "error": self.error, **stamp}))
        return out

    # ------------------------------------------------------------------ the view

    def status(self, sfn_status: str | None = None) -> str:
        """The API status, from the end event when there is one, else from ``sfn_status``."""
        if self.end is not None:
            return api_status(self.end[0], error=self.end[1])
        return api_status(sfn_status or "RUNNING", state_entered=self.state_entered, waiting=bool(self.waiting_steps))

    @property
    def result(self) -> Any:
        """The workflow's result (from the result record), ``None`` until it completed."""
        return self.record.get("result") if self.record else None

    @property
    def error(self) -> dict[str, Any] | None:
        """``{code, message, step}`` of a failed execution (the result record's, else the end event's)."""
        if self.record and self.record.get("error"):
            return self.record["error"]
        if self.end is not None and self.end[0] != "SUCCEEDED":
            return {"code": self.end[1], "message": self.end[2], "step": None}
        return None

    def step_views(self) -> list[dict[str, Any]]:
        """``steps[]`` of the execution view (helper states excluded)."""
        return [s.view() for s in self.steps.values() if not is_helper_state(s.step_id)]
