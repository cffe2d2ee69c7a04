"""The workflow model: frozen dataclasses read from a workflow document (SPEC §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["RetryPolicy", "Step", "ChainTarget", "Workflow", "freeze", "thaw"]


def __getattr__(name: str) -> Any:
    """``StepType`` and ``TriggerKind`` live with the step kinds (:mod:`stepgraph.steps`)."""
    if name == "StepType":
        from .steps import StepType

        return StepType
    if name == "TriggerKind":
        from .steps.trigger import TriggerKind

        return TriggerKind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def freeze(value: Any) -> Any:
    """Return a read-only deep copy of a JSON value (dicts become ``MappingProxyType``)."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain ``dict``/``list`` again, for JSON output."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """A step's ``retry`` block.

    Attributes
    ----------
    max_attempts:
        Total attempts including the first (≥ 1). Compiles to ASL ``MaxAttempts = max_attempts - 1``
        because ASL counts retries, not attempts.
    backoff_seconds:
        Wait before the first retry, in seconds (≥ 0); ASL ``IntervalSeconds`` (rounded up, min 1).
    backoff_rate:
        Multiplier applied to the wait after each retry (default 2.0, ASL ``BackoffRate`` ≥ 1).
    """

    max_attempts: int = 1
    backoff_seconds: float = 0
    backoff_rate: float = 2.0


@dataclass(frozen=True)
class Step:
    """One step of a workflow.

    Attributes
    ----------
    step_id:
        Unique id, ``[A-Za-z0-9_-]{1,64}``; also the state name in the compiled state machine.
    step_type:
        A registered step type (:data:`stepgraph.steps.StepType`, a string enum).
    parameters:
        Read-only mapping of the step's parameters (see SPEC §3 for each type).
    next_steps, else_steps:
        Ids of the following steps. ``else_steps`` only for condition and human_approval.
    retry:
        Retry policy, or ``None`` for the step type's default.
    timeout_seconds:
        Step time-out in seconds, or ``None``.
    index:
        Position of the step in the document's ``steps`` list (for error paths).
    """

    step_id: str
    step_type: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    next_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()
    retry: RetryPolicy | None = None
    timeout_seconds: int | None = None
    index: int = 0

    @property
    def is_terminal(self) -> bool:
        """A step with no next steps ends the workflow; its output is the workflow's result."""
        return not self.next_steps and not self.else_steps

    def param(self, name: str, default: Any = None) -> Any:
        """Return parameter ``name``, or ``default`` when absent."""
        return self.parameters.get(name, default)


@dataclass(frozen=True)
class ChainTarget:
    """One ``on_complete`` entry: start ``workflow`` when this one ends with status ``when``."""

    workflow: str
    when: str = "completed"


@dataclass(frozen=True)
class Workflow:
    """A workflow document.

    Attributes
    ----------
    name:
        1–64 of ``[A-Za-z0-9_-]``; unique in the app; also the state machine's name.
    steps:
        The steps, in document order.
    description:
        Free text.
    on_complete:
        Workflows to start when this one ends (SPEC §5).
    source:
        File the workflow was read from, if any.
    """

    name: str
    steps: tuple[Step, ...]
    description: str = ""
    on_complete: tuple[ChainTarget, ...] = ()
    source: str | None = None

    @property
    def steps_by_id(self) -> dict[str, Step]:
        """Steps by id (the first one wins when ids repeat; validation reports duplicates)."""
        found: dict[str, Step] = {}
        for step in self.steps:
            found.setdefault(step.step_id, step)
        return found

    @property
    def trigger(self) -> Step | None:
        """The trigger step, or ``None`` when there is none."""
        from .steps import kind_of

        return next((s for s in self.steps if kind_of(s).is_entry), None)

    def steps_of_type(self, step_type: str) -> tuple[Step, ...]:
        """Every step of ``step_type``, in document order."""
        return tuple(s for s in self.steps if s.step_type == step_type)

    def _used(self, hook: str) -> tuple[str, ...]:
        """What the steps' kinds report through ``hook`` (``agents_used`` …), sorted, without repeats."""
        from .steps import kind_of

        return tuple(sorted({name for s in self.steps for name in getattr(kind_of(s), hook)(s)}))

    @property
    def agent_ids(self) -> tuple[str, ...]:
        """Agents the workflow's steps invoke, sorted, without repeats."""
        return self._used("agents_used")

    @property
    def tool_names(self) -> tuple[str, ...]:
        """Tools the workflow's steps call, sorted, without repeats."""
        return self._used("tools_used")

    @property
    def secret_names(self) -> tuple[str, ...]:
        """Secrets Manager secrets the workflow's steps read at call time, sorted, without repeats."""
        return self._used("secrets_used")

    @property
    def child_workflows(self) -> tuple[str, ...]:
        """Workflows the workflow's steps run as nested executions, sorted, without repeats."""
        return self._used("workflows_used")
