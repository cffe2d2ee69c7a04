"""Step kinds: one module per ``step_type``, found and registered here (SPEC §2, §3).

Every module of this package that defines a :class:`~stepgraph.steps.base.StepKind` subclass
with a ``step_type`` registers it; nothing else names step types. Adding a step type is one new
module here (its parameters, checks, compilation, picture) plus its tests.

Examples
--------
>>> from stepgraph.steps import kind_named
>>> kind_named("delay").does_work
False
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from enum import Enum
from typing import TYPE_CHECKING

from .base import Checker, Params, StepKind, SubScope, param

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..model import Step

__all__ = ["KINDS", "StepType", "StepKind", "Params", "Checker", "SubScope", "param", "kind_of", "kind_named",
           "entry_kind", "kinds_where"]


def _discover() -> dict[str, StepKind]:
    found: list[StepKind] = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name == "base" or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, StepKind) and cls.__module__ == module.__name__ and "step_type" in cls.__dict__:
                found.append(cls())
    found.sort(key=lambda k: (getattr(k, "position", 100), k.step_type))
    kinds: dict[str, StepKind] = {}
    for kind in found:
        if kind.step_type in kinds:
            raise RuntimeError(f"step_type {kind.step_type!r} is defined twice ({type(kinds[kind.step_type]).__name__}, {type(kind).__name__})")
        kinds[kind.step_type] = kind
    return kinds


#: ``step_type`` → its kind, in documentation order.
KINDS: dict[str, StepKind] = _discover()

#: The step types as a string enum (``StepType.DELAY == "delay"``), generated from :data:`KINDS`.
StepType = Enum("StepType", {name.upper(): name for name in KINDS}, type=str, module=__name__)
StepType.__doc__ = "The step types of the workflow format (SPEC §3), one per module of stepgraph.steps."
StepType.__str__ = lambda self: self.value  # type: ignore[method-assign]


def kind_named(step_type: str) -> StepKind | None:
    """The kind of a ``step_type`` string, or ``None`` when no module defines it."""
    kind = KINDS.get(step_type)  # a str or a StepType (a str enum: same hash and equality)
    if kind is not None:
        return kind
    return KINDS.get(str(step_type.value if isinstance(step_type, Enum) else step_type))


def kind_of(step: "Step") -> StepKind:
    """The kind of a step read by the loader (whose type is always registered)."""
    kind = kind_named(step.step_type)
    if kind is None:  # pragma: no cover - the loader refuses unknown types
        raise KeyError(f"unknown step_type {step.step_type!r}")
    return kind


def entry_kind() -> StepKind:
    """The kind every workflow starts with (``is_entry``)."""
    return next(k for k in KINDS.values() if k.is_entry)


def kinds_where(predicate) -> list[StepKind]:
    """Kinds for which ``predicate(kind)`` holds, in documentation order."""
    return [k for k in KINDS.values() if predicate(k)]
