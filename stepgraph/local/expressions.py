"""JSONata for moto's Step Functions interpreter: how the local engine evaluates expressions.

moto 5.2.5 leaves JSONata unwired (moto issue 10105) and, where it is wired, writes ``$states``
and every variable in scope as JSON text in front of each expression. Here:

* :class:`Evaluator` evaluates with ``jsonata-python`` plus the functions Step Functions adds
  (``$parse``, ``$uuid``, ``$hash``, ``$partition``, ``$range``, ``$random``), compiles each text
  once for all threads, and reads plain variable paths directly where no JSONata rule could
  differ (:func:`_path_plan`, :func:`_follow`);
* :func:`install_direct_bindings` replaces moto's evaluation of JSONata strings: only the
  variables an expression references are bound, as Python values;
* :func:`install_variables` JSON-encodes string variables where moto still writes them as text
  (the ``assignedVariables`` of the history);
* :func:`unexpected_evaluation` stands in for moto's own ``_eval_jsonata``, which nothing reaches
  once the string expressions are replaced: it fails loudly if a moto change ever does.

The emulator's other seams are in :mod:`stepgraph.local.emulator`, which installs these.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import uuid
from datetime import date, datetime
from typing import Any, Callable

__all__ = ["Evaluator", "install_direct_bindings", "install_variables", "unexpected_evaluation"]


def _sfn_functions() -> dict[str, Callable[..., Any]]:
    """JSONata functions Step Functions provides (Step Functions developer guide, "JSONata")."""

    def partition(array: list, size: int) -> list:
        size = int(size)
        return [array[i : i + size] for i in range(0, len(array), size)]

    def rng(start: float, end: float, step: float) -> list:
        out, value = [], start
        while (step > 0 and value <= end) or (step < 0 and value >= end):
            out.append(value)
            value += step
        return out

    def hash_(value: str, algorithm: str = "SHA-256") -> str:
        name = algorithm.replace("-", "").lower()
        return hashlib.new(name, str(value).encode("utf-8")).hexdigest()

    return {
        "parse": lambda text: json.loads(text),
        "uuid": lambda: str(uuid.uuid4()),
        "hash": hash_,
        "partition": partition,
        "range": rng,
        "random": lambda *seed: random.Random(seed[0]).random() if seed else random.random(),
    }


_NAME = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
#: ``$var.key.key`` (keys plain or in backticks), alone or in the compiler's guard for a template reference.
_PATH = re.compile(rf"\$(?P<var>[A-Za-z_][A-Za-z0-9_]*)(?P<keys>(?:\.{_NAME})*)")
_GUARDED = re.compile(rf"\(\$v := (?P<path>{_PATH.pattern}); \$exists\(\$v\) \? \$v : null\)")
_KEY = re.compile(_NAME)
_NOT_PLAIN = object()


def _path_plan(text: str) -> tuple[str, ...]:
    """``(variable, key, …)`` when ``text`` is a plain path into a variable (or the compiler's
    guarded form of one); ``()`` otherwise."""
    guarded = _GUARDED.fullmatch(text)
    match = _PATH.fullmatch(guarded.group("path") if guarded else text)
    if not match:
        return ()
    keys = tuple(key.strip("`") for key in _KEY.findall(match.group("keys")))
    return (match.group("var"), *keys)


def _follow(plan: tuple[str, ...], bindings: dict[str, Any]) -> Any:
    """The value a plain path reads when only objects lie on the way and it ends at a string,
    integer, boolean or object; :data:`_NOT_PLAIN` whenever JSONata's own rules could differ
    (arrays and their flattening, null, numbers that are not integers, a missing key)."""
    value: Any = bindings
    for key in plan:
        if type(value) is not dict:
            return _NOT_PLAIN
        value = value.get(key, _NOT_PLAIN)
        if value is _NOT_PLAIN:
            return _NOT_PLAIN
    if isinstance(value, (str, dict)) or (isinstance(value, int) and not isinstance(value, bool)) or value is True or value is False:
        return value
    return _NOT_PLAIN


class Evaluator:
    """JSONata for moto's interpreter, with ``jsonata-python``: compiled once per text, shared by threads.

    Compiled expressions are kept by text, each a pool of instances: one instance evaluates in
    one thread at a time, and a Map's iterations (each on a thread of its own) reuse what others
    compiled. Instances keep JSONata's ``null`` apart from *undefined* (``Utils.NULL_VALUE`` vs
    ``None``), so a caller can tell "returned nothing" without evaluating again.

    A plain path into a variable (``$states.input.item``, ``$states.context.Map.Item.Value``,
    and the compiler's ``($v := <path>; $exists($v) ? $v : null)``), most of what a loop body
    evaluates, is read directly when the value on its way leaves no room for JSONata's own rules
    (:func:`_follow`); anything else is evaluated by ``jsonata-python``.
    """

    def __init__(self) -> None:
        self.functions = _sfn_functions()
        self._pools: dict[str, list[Any]] = {}
        self._plans: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def _acquire(self, text: str) -> Any:
        import jsonata

        with self._lock:
            pool = self._pools.get(text)
            if pool:
                return pool.pop()
            if len(self._pools) > 2048:
                self._pools.clear()
        expr = jsonata.Jsonata(text)
        expr.set_output_convert_nulls(False)
        for name, fn in self.functions.items():
            expr.register_lambda(name, fn)
        return expr

    def raw(self, text: str, bindings: dict[str, Any] | None) -> Any:
        """Evaluate ``text`` with ``bindings`` (variable name without ``$`` → value).

        Returns the result with JSONata ``null`` as ``Utils.NULL_VALUE`` and *undefined* as
        ``None`` (convert with ``jsonata.utils.Utils.convert_nulls``).

        Raises
        ------
        moto.stepfunctions.parser.asl.jsonata.jsonata.JSONataException
            ``States.QueryEvaluationError`` for any error of the expression.
        """
        from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

        if bindings is not None:
            plan = self._plans.get(text)
            if plan is None:
                plan = self._plans.setdefault(text, _path_plan(text))
            if plan:
                value = _follow(plan, bindings)
                if value is not _NOT_PLAIN:
                    return value
        expr = self._acquire(text)
        try:
            return expr.evaluate(None, bindings)
        except JSONataException:
            raise
        except Exception as exc:  # jsonata-python raises JException and Python errors
            raise JSONataException("States.QueryEvaluationError", str(exc)) from exc
        finally:
            with self._lock:
                self._pools.setdefault(text, []).append(expr)


_JSON_SCALARS = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    """``value`` as the JSON moto would have written (dates ISO 8601, other objects ``str``), sharing what needs no change.

    Returns ``value`` itself when it is JSON already (no copy), else a copy of only the
    containers on the way to what changed.
    """
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, (dict, list)):
        changed: Any = None
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            new = _jsonable(item)
            if new is not item:
                changed = (dict(value) if isinstance(value, dict) else list(value)) if changed is None else changed
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _jsonable_context(context: Any) -> Any:
    """:func:`_jsonable` of a context object, without walking ``Execution.Input``.

    The execution input is ``json.loads`` of ``StartExecution``'s text, JSON by construction, and
    every Map iteration's context holds all of it: walking it per expression would make a loop
    over the input's items quadratic.
    """
    if not isinstance(context, dict) or not isinstance(context.get("Execution"), dict):
        return _jsonable(context)
    execution = context["Execution"]
    rest = _jsonable({**context, "Execution": {k: v for k, v in execution.items() if k != "Input"}})
    if "Input" in execution:
        rest["Execution"]["Input"] = execution["Input"]
    return rest


#: ``$states`` parts moto samples by reference prefix (``moto/.../asl/eval/states.py``).
_STATES_PARTS = (("input", "$states.input"), ("context", "$states.context"), ("result", "$states.result"),
                 ("errorOutput", "$states.errorOutput"))


def _bindings(env: Any, references: set[str], *, with_states: bool) -> dict[str, Any]:
    """The values an expression's ``$`` references name, as Python values: ``$states`` (the parts
    referenced, as moto samples them) and each variable of the state's scope that is referenced."""
    from moto.stepfunctions.parser.asl.eval.variable_store import NoSuchVariable

    bindings: dict[str, Any] = {}
    if with_states:
        data = env.states._states_data
        everything = not references or "$states" in references
        bindings["states"] = {key: (_jsonable_context(data[key]) if key == "context" else _jsonable(data[key]))
                              for key, prefix in _STATES_PARTS
                              if key in data and (everything or any(reference.startswith(prefix) for reference in references))}
    store = env.variable_store
    for reference in references:
        name = reference[1:].split(".", 1)[0]
        if not name or name in bindings:
            continue
        try:
            bindings[name] = _jsonable(store.get(name))
        except NoSuchVariable:
            pass
    return bindings


def install_direct_bindings(evaluator: Evaluator, installed: dict[str, Any]) -> None:
    """Evaluate JSONata states' expressions with their variables bound as Python values.

    moto writes ``$states`` and *every* variable in scope as JSON text in front of each
    expression (``StringJSONata``, ``StringVariableSample``), then parses it back; with step
    outputs held in variables that is the whole execution's data, encoded and decoded at every
    evaluation (``O(data)`` per expression). Here only the variables the expression references
    are bound, as they are (dates turned into ISO 8601 text as moto's encoder does). moto's
    check that an expression returned something stays: *undefined* fails the state with
    ``States.QueryEvaluationError`` and moto's cause text.
    """
    from jsonata.utils import Utils
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
    from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.jsonata.jsonata import extract_jsonata_variable_references

    def undefined(env: Any, expression: str) -> None:
        error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
        details = EvaluationFailedEventDetails(
            cause=f"The JSONata expression '{expression}' returned nothing (undefined).",
            error=error_name.error_name,
        )
        failure = FailureEvent(env=env, error_name=error_name, event_type=HistoryEventType.EvaluationFailed,
                               event_details=EventDetails(evaluationFailedEventDetails=details))
        env.event_manager.add_event(context=env.event_history_context, event_type=HistoryEventType.EvaluationFailed,
                                    event_details=EventDetails(evaluationFailedEventDetails=details))
        raise FailureEventException(failure_event=failure)

    def jsonata_body(self: Any, env: Any) -> None:
        references = extract_jsonata_variable_references(self.expression)
        result = evaluator.raw(self.expression, _bindings(env, references, with_states=True))
        if result is None:
            undefined(env, self.expression)
        env.stack.append(Utils.convert_nulls(result))

    def variable_sample_body(self: Any, env: Any) -> None:
        references = extract_jsonata_variable_references(self.expression)
        with_states = self.query_language_mode == QueryLanguageMode.JSONata
        result = evaluator.raw(self.expression, _bindings(env, references, with_states=with_states))
        env.stack.append(Utils.convert_nulls(result))

    for cls, body in ((string_expression.StringJSONata, jsonata_body),
                      (string_expression.StringVariableSample, variable_sample_body)):
        installed.setdefault(f"eval_body:{cls.__name__}", cls._eval_body)
        cls._eval_body = body


def install_variables() -> None:
    """JSON-encode string variables in the history's ``assignedVariables``, which moto writes as
    ``"<value>"`` unescaped (a quote or a line break there breaks the history's JSON)."""
    from moto.stepfunctions.parser.asl.eval import variable_store
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    def get_assigned_variables(self: Any) -> dict[str, str]:
        return {name: to_json_str(self.get(name), separators=(",", ":")) for name in self._declaration_tracing}

    variable_store.VariableStore.get_assigned_variables = get_assigned_variables


def unexpected_evaluation(expression: str) -> Any:
    """moto's ``_eval_jsonata`` hook, which only the replaced string expressions called.

    Raises
    ------
    RuntimeError
        Always: moto evaluated JSONata through a path the seams do not know (the pinned
        moto 5.2.5 has none), so the seams need updating.
    """
    raise RuntimeError(f"moto evaluated JSONata outside stepgraph's seams ({expression[:80]!r}); "
                       "stepgraph pins moto==5.2.5")
