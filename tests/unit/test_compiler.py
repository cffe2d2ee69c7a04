"""Unit tests for stepgraph.compiler: workflow model → Amazon States Language (JSONata).

Structure is checked on the ASL document itself (a whole-document comparison against a committed
``.asl.json`` fixture, and per-state checks); behaviour is checked by running the compiled states
with :func:`run_definition`, a small in-memory interpreter of the JSONata flavour of ASL (Pass,
Choice, Wait, Map, Parallel, Succeed, Fail; Task results come from a stub), which evaluates every
``{% %}`` with jsonata-python. Every definition must also pass ``statelint`` (SPEC §12).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from collections import ChainMap
from typing import Any, Callable, Iterator, Mapping

import jsonata
import pytest
from dateutil.parser import isoparse
from jsonata.utils import Utils as JsonataUtils
from statelint.config import Config
from statelint.linter import Linter

from stepgraph import CompiledWorkflow, Workflow, compile_workflow, load_workflow, parse_workflow, validate_workflow

ROOT = Path(__file__).resolve().parents[2]
JSONATA_NULL = JsonataUtils.NULL_VALUE
WORKFLOWS = ROOT / "tests" / "workflows"
HELPER_STATES = ("Store result", "Publish result", "Store failure", "Publish failure", "Execution failed")
LAMBDA_STEP_TYPES = ("agent_execution", "tool_call", "api_call", "human_approval")


# ----------------------------------------------------------------------------- helpers


def load_fixture(name: str) -> Path:
    """Path of ``tests/workflows/valid/<name>``."""
    return WORKFLOWS / "valid" / name


def compile_document(document: dict[str, Any]) -> CompiledWorkflow:
    """Validate a document (it must be valid) and compile it."""
    parsed = parse_workflow(document)
    assert parsed.workflow is not None and parsed.issues == []
    assert validate_workflow(parsed.workflow) == []
    return compile_workflow(parsed.workflow)


def statelint_problems(definition: dict[str, Any]) -> list[str]:
    """``statelint``'s problems with a definition (its Python API, the one its CLI calls)."""
    return Linter.validate(definition, Config())


def walk_states(states: dict[str, Any], path: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every state, nested ones included, as ``(scope path, name, state)``."""
    for name, state in states.items():
        yield path, name, state
        if "ItemProcessor" in state:
            yield from walk_states(state["ItemProcessor"]["States"], f"{path}/{name}")
        for i, branch in enumerate(state.get("Branches", [])):
            yield from walk_states(branch["States"], f"{path}/{name}[{i}]")


def jsonata_strings(value: Any) -> Iterator[str]:
    """Every ``{% ... %}`` string of an ASL value."""
    if isinstance(value, dict):
        for v in value.values():
            yield from jsonata_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from jsonata_strings(v)
    elif isinstance(value, str) and value.lstrip().startswith("{%"):
        yield value


def plain(value: Any) -> Any:
    """jsonata-python's values as plain JSON values."""
    return json.loads(json.dumps(value))


# ----------------------------------------------------------------------------- a tiny ASL interpreter


class StateFailed(Exception):
    """An ASL error (``Error``/``Cause``) raised by a state."""

    def __init__(self, error: str, cause: str | None = None):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass
class Run:
    """What :func:`run_definition` saw: the visited states (in order) and what the tail wrote."""

    output: Any = None
    visited: list[str] = field(default_factory=list)
    waits: list[dict[str, Any]] = field(default_factory=list)
    task_calls: list[tuple[str, Any]] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list)
    failed: StateFailed | None = None


CONTEXT = {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:wf:run-1", "Name": "run-1",
                         "StartTime": "2025-01-01T00:00:00Z"}, "State": {"EnteredTime": "2025-01-01T00:00:01Z"}}


def jsonata_value(value: Any) -> Any:
    """A JSON value as jsonata-python binds it: JSON ``null`` is its NULL_VALUE (``None`` means undefined)."""
    if value is None:
        return JSONATA_NULL
    if isinstance(value, dict):
        return {k: jsonata_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonata_value(v) for v in value]
    return value


def evaluate(value: Any, states: dict[str, Any], variables: Mapping[str, Any] | None = None) -> Any:
    """Evaluate an ASL field value: ``{% %}`` strings with JSONata (``$states`` and the workflow
    variables bound), containers member by member."""
    if isinstance(value, dict):
        return {k: evaluate(v, states, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, states, variables) for v in value]
    if isinstance(value, str) and value.startswith("{%") and value.endswith("%}"):
        expression = jsonata.Jsonata(value[2:-2])
        # Step Functions adds $parse (JSON text -> value) to JSONata's functions
        expression.register_lambda("parse", lambda text: json.loads(text))
        for name, bound in (variables or {}).items():
            expression.assign(name, jsonata_value(bound))
        expression.assign("states", jsonata_value(states))
        try:
            return plain(expression.evaluate(None))
        except Exception as exc:  # a JSONata run-time error fails the state, as in Step Functions
            raise StateFailed("States.QueryEvaluationError", f"{type(exc).__name__}: {exc}") from exc
    return value


def check_wait(wait: dict[str, Any]) -> None:
    """Step Functions' checks of a Wait's evaluated fields: whole seconds >= 0, an RFC 3339 timestamp."""
    if "Seconds" in wait:
        seconds = wait["Seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0 or seconds != int(seconds):
            raise StateFailed("States.QueryEvaluationError", f"Seconds is {seconds!r}")
    if "Timestamp" in wait:
        stamp = wait["Timestamp"]
        try:
            parsed = isoparse(stamp) if isinstance(stamp, str) and "T" in stamp else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise StateFailed("States.QueryEvaluationError", f"Timestamp is {stamp!r}")


TaskStub = Callable[[str, dict[str, Any]], Any]


def run_definition(definition: dict[str, Any], execution_input: Any, tasks: TaskStub | None = None) -> Run:
    """Run a JSONata ASL definition in memory.

    ``tasks(state_name, payload)`` returns a Lambda's ``Payload`` or raises :class:`StateFailed`;
    the S3 and SNS tasks of the tail are recorded in ``Run.stored``.

    Variables follow Step Functions ("Passing data between states with variables"): ``Assign``
    and ``Output`` see the values from before the state, new values apply when it ends; each
    Map iteration and Parallel branch has a scope of its own that reads the outer ones (a
    distributed Map's reads none) and may not assign an outer variable.
    """
    run = Run()

    def apply(assign: Any, states: dict[str, Any], variables: ChainMap) -> None:
        if not assign:
            return
        values = evaluate(assign, states, variables)
        for name, value in values.items():
            if any(name in outer for outer in variables.maps[1:]):
                raise AssertionError(f"an inner state assigns ${name}, a variable of an outer scope")
            variables.maps[0][name] = value

    def task(name: str, state: dict[str, Any], arguments: dict[str, Any]) -> Any:
        if state["Resource"].startswith("arn:aws:states:::aws-sdk:s3:") or state["Resource"].startswith("arn:aws:states:::sns:"):
            run.stored.append({"state": name, "arguments": arguments})
            return {}
        run.task_calls.append((name, arguments))
        if tasks is None:
            raise AssertionError(f"unexpected Task {name}")
        return {"Payload": tasks(name, arguments.get("Payload")), "StatusCode": 200}

    def machine(body: dict[str, Any], value: Any, context: dict[str, Any], variables: ChainMap) -> Any:
        name = body["StartAt"]
        while True:
            state = body["States"][name]
            run.visited.append(name)
            states: dict[str, Any] = {"input": value, "context": context}
            try:
                kind = state["Type"]
                if kind == "Choice":
                    rule = next((c for c in state["Choices"] if evaluate(c["Condition"], states, variables) is True), None)
                    chosen = rule if rule is not None else state
                    nxt = rule["Next"] if rule is not None else state.get("Default")
                    if nxt is None:
                        raise StateFailed("States.NoChoiceMatched")
                    output = evaluate(chosen["Output"], states, variables) if "Output" in chosen else value
                    apply(chosen.get("Assign"), states, variables)
                    name, value = nxt, output
                    continue
                if kind == "Fail":
                    raise StateFailed(evaluate(state.get("Error"), states, variables), evaluate(state.get("Cause"), states, variables))
                if kind == "Pass":
                    result = None
                elif kind == "Wait":
                    wait = {k: evaluate(state[k], states, variables) for k in ("Seconds", "Timestamp") if k in state}
                    run.waits.append(wait)
                    check_wait(wait)
                    result = None
                elif kind == "Succeed":
                    return evaluate(state["Output"], states, variables) if "Output" in state else value
                elif kind == "Task":
                    result = task(name, state, evaluate(state.get("Arguments", {}), states, variables))
                elif kind == "Map":
                    items = evaluate(state["Items"], states, variables)
                    if not isinstance(items, list):
                        raise StateFailed("States.QueryEvaluationError", f"Items is not an array: {items!r}")
                    distributed = state["ItemProcessor"].get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
                    result = []
                    for index, item in enumerate(items):
                        item_context = {**context, "Map": {"Item": {"Value": item, "Index": index}}}
                        selected = (evaluate(state["ItemSelector"], {"input": value, "context": item_context}, variables)
                                    if "ItemSelector" in state else item)
                        inner = ChainMap({}) if distributed else variables.new_child()
                        result.append(machine(state["ItemProcessor"], selected, context, inner))
                elif kind == "Parallel":
                    result = [machine(branch, value, context, variables.new_child()) for branch in state["Branches"]]
                else:  # pragma: no cover - the compiler emits no other type
                    raise AssertionError(f"state type {kind}")
                states["result"] = result
                output = evaluate(state["Output"], states, variables) if "Output" in state else value
                apply(state.get("Assign"), states, variables)
            except StateFailed as failure:
                catcher = next((c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"] or failure.error in c["ErrorEquals"]), None)
                if catcher is None:
                    raise
                states["errorOutput"] = {"Error": failure.error, "Cause": failure.cause}
                value = evaluate(catcher["Output"], states, variables) if "Output" in catcher else states["errorOutput"]
                apply(catcher.get("Assign"), states, variables)
                name = catcher["Next"]
                continue
            if state.get("End"):
                return output
            name, value = state["Next"], output

    try:
        run.output = machine(definition, execution_input, CONTEXT, ChainMap({}))
    except StateFailed as failure:
        run.failed = failure
    return run


def result_record(run: Run) -> dict[str, Any]:
    """The result record the tail wrote to S3."""
    [store] = [s for s in run.stored if s["state"] in ("Store result", "Store failure")]
    return json.loads(store["arguments"]["Body"])


# ----------------------------------------------------------------------------- whole document


def test_compile_workflow_matches_the_committed_asl_document() -> None:
    # GIVEN the smallest useful workflow: trigger -> data_transform
    workflow = load_workflow(load_fixture("greeting.json"))
    # WHEN it is compiled
    compiled = compile_workflow(workflow)
    # THEN the whole ASL document is the committed one (update the fixture on purpose only:
    #   python -c "from stepgraph import *; print(compile_workflow(load_workflow('tests/workflows/valid/greeting.json')).to_json())")
    expected = json.loads(load_fixture("greeting.asl.json").read_text(encoding="utf-8"))
    assert compiled.definition == expected
    assert json.loads(compiled.to_json()) == expected
    assert (compiled.name, compiled.agent_ids, compiled.tools) == ("greeting", (), ())


def test_compiled_greeting_runs_to_a_completed_result_record() -> None:
    # GIVEN the compiled greeting WHEN it runs on an input THEN the result record holds the rendered output
    definition = compile_workflow(load_workflow(load_fixture("greeting.json"))).definition
    run = run_definition(definition, {"name": "Ana", "count": 3, "session_id": "s-9"})
    assert run.visited == ["trigger", "greet", "Store result", "Publish result"]
    record = result_record(run)
    assert {k: v for k, v in record.items() if k != "completedAt"} == {
        "executionArn": CONTEXT["Execution"]["Id"],
        "executionName": "run-1",
        "workflowName": "greeting",
        "sessionId": "s-9",
        "status": "completed",
        "result": {"message": "Hello Ana", "count": 3, "fixed": 1},
        "error": None,
        "startedAt": "2025-01-01T00:00:00Z",
    }
    assert run.output == record


def test_compiled_greeting_renders_missing_fields_as_null() -> None:
    definition = compile_workflow(load_workflow(load_fixture("greeting.json"))).definition
    record = result_record(run_definition(definition, {}))
    assert record["result"] == {"message": "Hello null", "count": None, "fixed": 1}
    assert record["sessionId"] == "run-1"


def test_compiled_trigger_builds_the_state_document() -> None:
    # GIVEN a trigger alone WHEN it runs THEN steps.<trigger> is the trigger object (flat) and last too
    compiled = compile_document({"name": "t", "steps": [{"step_id": "start", "step_type": "trigger"}]})
    run = run_definition(compiled.definition, {"trigger": {"kind": "chat", "current_message": "hi"}, "user_id": "u"})
    assert result_record(run)["result"] == {"kind": "chat", "current_message": "hi"}
    run = run_definition(compiled.definition, {"user_id": "u"})
    assert result_record(run)["result"] == {"kind": "api"}  # a missing trigger means {"kind": "api"}


# ----------------------------------------------------------------------------- state names and types


def every_step_type() -> CompiledWorkflow:
    workflow = load_workflow(load_fixture("every-step-type.yaml"), agents=["support_agent"], tools=["lookup"])
    return compile_workflow(workflow)


def test_compile_workflow_names_states_after_step_ids() -> None:
    definition = every_step_type().definition
    # main graph: its steps (in the order they are reached), then the tail
    assert definition["StartAt"] == "trigger"
    assert list(definition["States"]) == ["trigger", "route", "fan-out", "pause", "call_api", "shape", *HELPER_STATES]
    fan = definition["States"]["fan-out"]
    assert [b["StartAt"] for b in fan["Branches"]] == ["each_order", "ask_agent"]
    assert list(fan["Branches"][0]["States"]) == ["each_order", "each_order (raise)"]
    assert list(fan["Branches"][1]["States"]) == [
        "ask_agent", "approve", "approve (decision)", "approve (approved)", "approve (rejected)", "ask_agent (raise)"]
    processor = fan["Branches"][0]["States"]["each_order"]["ItemProcessor"]
    assert processor["StartAt"] == "price"
    assert list(processor["States"]) == ["price", "price (raise)"]
    # every step is a state, under its own id, exactly once
    names = [name for _, name, _ in walk_states(definition["States"])]
    step_ids = [s.step_id for s in load_workflow(load_fixture("every-step-type.yaml")).steps]
    assert sorted(n for n in names if " " not in n) == sorted(step_ids)
    assert len(names) == len(set(names))
    assert all(len(n) <= 80 for n in names)


def test_compile_workflow_maps_each_step_type_to_its_state_type() -> None:
    states = {name: state for _, name, state in walk_states(every_step_type().definition["States"])}
    assert {name: states[name]["Type"] for name in
            ("trigger", "route", "pause", "fan-out", "each_order", "price", "ask_agent", "approve", "call_api", "shape")} == {
        "trigger": "Pass", "route": "Choice", "pause": "Wait", "fan-out": "Parallel", "each_order": "Map",
        "price": "Task", "ask_agent": "Task", "approve": "Task", "call_api": "Task", "shape": "Pass",
    }
    assert states["approve"]["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    for name in ("price", "ask_agent", "call_api"):
        assert states[name]["Resource"] == "arn:aws:states:::lambda:invoke"


def test_compile_workflow_uses_no_task_for_native_steps() -> None:
    # GIVEN a workflow of condition, loop, parallel, data_transform and delay steps only
    compiled = compile_document(LOOP_AND_PARALLEL)
    # WHEN compiled THEN the only Tasks are the tail's S3 and SNS writes: no Lambda is invoked
    tasks = [(name, state["Resource"]) for _, name, state in walk_states(compiled.definition["States"]) if state["Type"] == "Task"]
    assert tasks == [("Store result", "arn:aws:states:::aws-sdk:s3:putObject"), ("Publish result", "arn:aws:states:::sns:publish"),
                     ("Store failure", "arn:aws:states:::aws-sdk:s3:putObject"), ("Publish failure", "arn:aws:states:::sns:publish")]
    assert "lambda" not in compiled.to_json()


LOOP_AND_PARALLEL: dict[str, Any] = {
    "name": "loop-and-parallel",
    "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["route"]},
        {"step_id": "route", "step_type": "condition", "parameters": {"condition": "{{input.mode}} == 'fan'"},
         "next_steps": ["fan"], "else_steps": ["each"]},
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.orders}}", "body": "double"}, "next_steps": ["pause"]},
        {"step_id": "double", "step_type": "data_transform", "parameters": {"output": {"id": "{{item.id}}", "at": "{{index}}"}},
         "next_steps": ["big"]},
        {"step_id": "big", "step_type": "condition", "parameters": {"condition": "{{item.qty}} > 1"}, "next_steps": ["mark"]},
        {"step_id": "mark", "step_type": "data_transform", "parameters": {"output": "big {{steps.double.output.id}}"}},
        {"step_id": "pause", "step_type": "delay", "parameters": {"seconds": 2.5}},
        {"step_id": "fan", "step_type": "parallel", "parameters": {"join": "merge"}, "next_steps": ["left", "right", "third"]},
        {"step_id": "left", "step_type": "data_transform", "parameters": {"output": "L"}, "next_steps": ["merge"]},
        {"step_id": "right", "step_type": "data_transform", "parameters": {"output": ["R"]}},
        {"step_id": "third", "step_type": "condition", "parameters": {"condition": "{{input.n}} > 1"},
         "next_steps": ["merge"], "else_steps": ["third-else"]},
        {"step_id": "third-else", "step_type": "data_transform", "parameters": {"output": {"n": "{{input.n}}"}}},
        {"step_id": "merge", "step_type": "data_transform",
         "parameters": {"output": {"all": "{{steps.fan.output}}", "left": "{{steps.fan.output.left}}"}}},
    ],
}


def test_compile_condition_to_a_choice_with_a_default() -> None:
    route = compile_document(LOOP_AND_PARALLEL).definition["States"]["route"]
    assert route["Type"] == "Choice"
    assert [c["Next"] for c in route["Choices"]] == ["fan"]
    assert route["Default"] == "each"
    assert route["Choices"][0]["Condition"].startswith("{% ") and route["Choices"][0]["Condition"].endswith(" %}")


def test_compiled_condition_routes_on_the_input() -> None:
    definition = compile_document(LOOP_AND_PARALLEL).definition
    assert "fan" in run_definition(definition, {"mode": "fan"}).visited
    assert "each" in run_definition(definition, {"mode": "other", "orders": []}).visited
    assert "each" in run_definition(definition, {"orders": []}).visited  # missing mode: null, false branch


def test_compile_loop_to_an_inline_map() -> None:
    each = compile_document(LOOP_AND_PARALLEL).definition["States"]["each"]
    assert each["Type"] == "Map"
    assert each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert each["ItemProcessor"]["StartAt"] == "double"
    assert sorted(each["ItemProcessor"]["States"]) == ["big", "big (false)", "double", "mark"]  # no Task: no re-raising Fail state
    assert each["MaxConcurrency"] == 10
    assert each["Next"] == "pause"


def test_compile_loop_to_a_distributed_map() -> None:
    document = json.loads(json.dumps(LOOP_AND_PARALLEL))
    document["steps"][2]["parameters"].update({"mode": "distributed", "max_concurrency": 50, "tolerated_failure_count": 2})
    each = compile_document(document).definition["States"]["each"]
    assert each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert (each["MaxConcurrency"], each["ToleratedFailureCount"]) == (50, 2)


def test_compiled_loop_returns_the_body_results_in_item_order() -> None:
    definition = compile_document(LOOP_AND_PARALLEL).definition
    orders = [{"id": "a", "qty": 2}, {"id": "b", "qty": 1}, {"id": "c", "qty": 5}]
    run = run_definition(definition, {"orders": orders})
    # a body that ends in a condition without else ends with the current value
    assert result_record(run)["result"] == ["big a", {"id": "b", "at": 1}, "big c"]
    # a single non-array value is iterated as one item; a missing one as none
    assert result_record(run_definition(definition, {"orders": {"id": "x", "qty": 3}}))["result"] == ["big x"]
    assert result_record(run_definition(definition, {}))["result"] == []


def test_compile_parallel_with_one_branch_per_entry() -> None:
    fan = compile_document(LOOP_AND_PARALLEL).definition["States"]["fan"]
    assert fan["Type"] == "Parallel"
    assert [b["StartAt"] for b in fan["Branches"]] == ["left", "right", "third"]
    assert fan["Next"] == "merge"
    # a branch that reaches the join ends there; the join is not part of any branch
    assert fan["Branches"][0]["States"]["left"]["End"] is True
    assert all("merge" not in b["States"] for b in fan["Branches"])


def test_compiled_parallel_outputs_each_branch_result_by_entry_id() -> None:
    definition = compile_document(LOOP_AND_PARALLEL).definition
    run = run_definition(definition, {"mode": "fan", "n": 1})
    assert result_record(run)["result"] == {
        "all": {"left": "L", "right": ["R"], "third": {"n": 1}},
        "left": "L",
    }


def test_compile_delay_to_a_wait() -> None:
    definition = compile_document(LOOP_AND_PARALLEL).definition
    pause = definition["States"]["pause"]
    assert pause["Type"] == "Wait"
    assert pause["Seconds"] == 3  # 2.5 rounded up
    run = run_definition(definition, {"orders": [{"id": "a", "qty": 1}]})
    assert run.waits == [{"Seconds": 3}]
    # a delay's output is its input, unchanged
    assert result_record(run)["result"] == [{"id": "a", "at": 0}]


def delay_workflow(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"name": "delays", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["wait"]},
        {"step_id": "wait", "step_type": "delay", "parameters": parameters},
    ]}


def test_compiled_delay_computes_seconds_and_timestamps_from_expressions() -> None:
    seconds = compile_document(delay_workflow({"seconds": "{{input.pause}}"})).definition
    assert run_definition(seconds, {"pause": 4.2}).waits == [{"Seconds": 5}]
    assert run_definition(seconds, {"pause": "7"}).waits == [{"Seconds": 7}]
    assert run_definition(seconds, {"pause": -3}).waits == [{"Seconds": 0}]
    until = compile_document(delay_workflow({"until": "{{input.when}}"})).definition
    assert "Timestamp" in until["States"]["wait"] and "Seconds" not in until["States"]["wait"]
    assert run_definition(until, {"when": "2030-01-01T00:00:00Z"}).waits == [{"Timestamp": "2030-01-01T00:00:00.000Z"}]  # normalised to UTC


@pytest.mark.parametrize("execution_input", [{}, {"pause": None}, {"pause": "soon"}, {"pause": {"s": 1}}])
def test_compiled_delay_waits_zero_seconds_for_a_missing_or_non_numeric_value(execution_input: dict[str, Any]) -> None:
    definition = compile_document(delay_workflow({"seconds": "{{input.pause}}"})).definition
    run = run_definition(definition, execution_input)
    assert run.waits == [{"Seconds": 0}]
    assert result_record(run)["status"] == "completed"


@pytest.mark.parametrize("execution_input", [{}, {"when": "tomorrow"}, {"when": 5}])
def test_compiled_delay_until_a_missing_or_bad_timestamp_still_writes_a_result(execution_input: dict[str, Any]) -> None:
    definition = compile_document(delay_workflow({"until": "{{input.when}}"})).definition
    run = run_definition(definition, execution_input)
    assert result_record(run)["workflowName"] == "delays"


# ----------------------------------------------------------------------------- retry, catch, tail


def test_compile_retry_policy_to_a_retrier() -> None:
    states = {name: state for _, name, state in walk_states(every_step_type().definition["States"])}
    # ask_agent: max_attempts 4, backoff 1.5 s, rate 3 -> 3 retries, 2 s (rounded up), rate 3
    policy = [r for r in states["ask_agent"]["Retry"] if "AGENT_ERROR" in r["ErrorEquals"]]
    assert [(r["MaxAttempts"], r["IntervalSeconds"], r["BackoffRate"]) for r in policy] == [(3, 2, 3.0)]
    # price: max_attempts 3, backoff 2 s, default rate 2.0
    policy = [r for r in states["price"]["Retry"] if "AGENT_ERROR" in r["ErrorEquals"] or "TOOL_ERROR" in r["ErrorEquals"]
              or "TIMEOUT" in r["ErrorEquals"]]
    assert [(r["MaxAttempts"], r["IntervalSeconds"], r["BackoffRate"]) for r in policy] == [(2, 2, 2.0)]


@pytest.mark.parametrize(("retry", "expected"), [
    ({"max_attempts": 1}, []),
    ({"max_attempts": 2, "backoff_seconds": 0}, [(1, 1, 2.0)]),
    ({"max_attempts": 10, "backoff_seconds": 30, "backoff_rate": 1.0}, [(9, 30, 1.0)]),
])
def test_compile_retry_counts_retries_not_attempts(retry: dict[str, Any], expected: list[tuple[int, int, float]]) -> None:
    compiled = compile_document({"name": "r", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["ask"]},
        {"step_id": "ask", "step_type": "agent_execution", "parameters": {"agent_id": "a"}, "retry": retry},
    ]})
    retriers = compiled.definition["States"]["ask"]["Retry"]
    policy = [(r["MaxAttempts"], r["IntervalSeconds"], r["BackoffRate"]) for r in retriers if "AGENT_ERROR" in r["ErrorEquals"]]
    assert policy == expected
    assert all(1 <= r["MaxAttempts"] and r["IntervalSeconds"] >= 1 and r["BackoffRate"] >= 1 for r in retriers)


def test_compile_every_task_with_a_catch_that_records_the_failure() -> None:
    definition = every_step_type().definition
    for scope, name, state in walk_states(definition["States"]):
        if state["Type"] not in ("Task", "Map", "Parallel") or name in HELPER_STATES:
            continue
        [catcher] = state["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"], name
        if scope == "":
            assert catcher["Next"] == "Store failure", name
        else:
            # inside a sub-graph: a Fail state that re-raises to the enclosing Map/Parallel
            assert catcher["Next"].endswith(" (raise)"), name


def test_compiled_failure_writes_a_failed_result_record_with_the_step() -> None:
    # GIVEN an agent that fails with AGENT_ERROR
    workflow = load_workflow(ROOT / "workflows" / "customer-support.json")
    definition = compile_workflow(workflow).definition

    def agent(name: str, arguments: dict[str, Any]) -> Any:
        raise StateFailed("AGENT_ERROR", json.dumps({"errorMessage": "runtime exploded", "errorType": "AGENT_ERROR"}))

    # WHEN it runs THEN the Catch leads to the tail, which records and fails the execution
    run = run_definition(definition, {"trigger": {"kind": "chat", "current_message": "hi"}}, agent)
    assert run.visited[-3:] == ["Store failure", "Publish failure", "Execution failed"]
    record = result_record(run)
    assert (record["status"], record["result"], record["error"]) == (
        "failed", None, {"code": "AGENT_ERROR", "message": "runtime exploded", "step": "agent"})
    assert run.failed is not None and (run.failed.error, run.failed.cause) == ("AGENT_ERROR", "runtime exploded")


def test_compiled_failure_inside_a_loop_names_the_inner_step() -> None:
    compiled = compile_document({"name": "inner-failure", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["each"]},
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.xs}}", "body": "call"}},
        {"step_id": "call", "step_type": "tool_call", "parameters": {"tool": "t", "arguments": {"x": "{{item}}"}}},
    ]})

    def tool(name: str, arguments: dict[str, Any]) -> Any:
        if arguments["arguments"]["x"] == 2:
            raise StateFailed("TOOL_ERROR", json.dumps({"errorMessage": "two is bad"}))
        return arguments["arguments"]["x"] * 10

    assert result_record(run_definition(compiled.definition, {"xs": [1, 3]}, tool))["result"] == [10, 30]
    record = result_record(run_definition(compiled.definition, {"xs": [1, 2]}, tool))
    assert record["error"] == {"code": "TOOL_ERROR", "message": "two is bad", "step": "call"}


def test_compile_workflow_appends_the_result_tail() -> None:
    # a workflow with a step that can fail gets both tails; the greeting (nothing can fail) only the first
    assert [n for n in compile_workflow(load_workflow(load_fixture("greeting.json"))).definition["States"] if " " in n] == list(HELPER_STATES[:2])
    definition = compile_workflow(load_workflow(ROOT / "workflows" / "customer-support.json")).definition
    tail = {name: definition["States"][name] for name in HELPER_STATES}
    assert [(n, s["Type"], s.get("Next"), s.get("End")) for n, s in tail.items()] == [
        ("Store result", "Task", "Publish result", None),
        ("Publish result", "Task", None, True),
        ("Store failure", "Task", "Publish failure", None),
        ("Publish failure", "Task", "Execution failed", None),
        ("Execution failed", "Fail", None, None),
    ]
    assert tail["Store result"]["Arguments"]["Bucket"] == "${ResultsBucketName}"
    assert tail["Publish result"]["Arguments"]["TopicArn"] == "${ResultsTopicArn}"
    assert tail["Publish result"]["Arguments"]["MessageAttributes"]["workflowName"] == {"DataType": "String", "StringValue": "customer-support"}
    assert tail["Publish failure"]["Arguments"] == tail["Publish result"]["Arguments"]
    # every terminal step of the main graph leads to the tail
    assert compile_workflow(load_workflow(load_fixture("greeting.json"))).definition["States"]["greet"]["Next"] == "Store result"


def test_compiled_tail_stores_the_record_under_the_execution_name() -> None:
    definition = compile_workflow(load_workflow(load_fixture("greeting.json"))).definition
    run = run_definition(definition, {"name": "Ana"})
    store, publish = run.stored
    assert store["arguments"]["Key"] == "results/greeting/run-1.json"
    assert json.loads(publish["arguments"]["Message"]) == result_record(run)
    assert publish["arguments"]["MessageAttributes"]["status"] == {"DataType": "String", "StringValue": "completed"}


# ----------------------------------------------------------------------------- placeholders


def test_substitution_keys_lists_every_placeholder() -> None:
    assert compile_workflow(load_workflow(load_fixture("greeting.json"))).substitution_keys == {"ResultsBucketName", "ResultsTopicArn"}
    assert every_step_type().substitution_keys == {
        "ResultsBucketName", "ResultsTopicArn", "InvokeAgentFunctionArn", "AgentRuntimeArn_support_agent",
        "ToolFunctionArn", "ApiCallFunctionArn", "ApprovalFunctionArn",
    }


def test_substitute_fills_every_placeholder_or_names_the_missing_ones() -> None:
    compiled = compile_workflow(load_workflow(load_fixture("greeting.json")))
    filled = json.loads(compiled.substitute({"ResultsBucketName": "bucket-1", "ResultsTopicArn": "arn:aws:sns:us-east-1:1:t"}))
    assert filled["States"]["Store result"]["Arguments"]["Bucket"] == "bucket-1"
    assert "${" not in json.dumps(filled)
    with pytest.raises(KeyError, match="ResultsTopicArn"):
        compiled.substitute({"ResultsBucketName": "bucket-1"})


# ----------------------------------------------------------------------------- statelint and JSONata


def definitions_to_lint() -> dict[str, dict[str, Any]]:
    return {
        "greeting": compile_workflow(load_workflow(load_fixture("greeting.json"))).definition,
        "every-step-type": every_step_type().definition,
        "customer-support": compile_workflow(load_workflow(ROOT / "workflows" / "customer-support.json")).definition,
        "loop-and-parallel": compile_document(LOOP_AND_PARALLEL).definition,
    }


@pytest.mark.parametrize("name", ["greeting", "every-step-type", "customer-support"])
def test_compiled_definition_passes_statelint(name: str) -> None:
    assert statelint_problems(definitions_to_lint()[name]) == []


def test_compiled_definition_passes_the_statelint_command(tmp_path: Path) -> None:
    path = tmp_path / "every-step-type.asl.json"
    path.write_text(every_step_type().to_json(), encoding="utf-8")
    statelint = Path(sys.executable).with_name("statelint")
    completed = subprocess.run([str(statelint), str(path)], capture_output=True, text=True, check=False)
    assert (completed.returncode, completed.stdout) == (0, "")


@pytest.mark.parametrize("name", ["greeting", "every-step-type", "customer-support", "loop-and-parallel"])
def test_compiled_definition_holds_only_parseable_jsonata(name: str) -> None:
    expressions = list(jsonata_strings(definitions_to_lint()[name]))
    assert expressions
    for text in expressions:
        assert text.startswith("{% ") and text.endswith(" %}")
        jsonata.Jsonata(text[3:-3])  # raises on a syntax error


def test_compiled_sub_graph_without_a_task_passes_statelint() -> None:
    assert statelint_problems(compile_document(LOOP_AND_PARALLEL).definition) == []


def test_compiled_delay_until_a_literal_timestamp_passes_statelint() -> None:
    definition = compile_document(delay_workflow({"until": "2030-01-01T00:00:00Z"})).definition
    assert statelint_problems(definition) == []


@pytest.mark.xfail(strict=True, reason="SPEC §12 gate: statelint 3.1.0 (latest) rejects a JSONata 'Seconds' or 'Timestamp' "
                                       "in a Wait state, which Step Functions accepts; an expression delay fails the statelint gate")
@pytest.mark.parametrize("parameters", [{"seconds": "{{input.pause}}"}, {"until": "{{input.when}}"}])
def test_compiled_delay_with_an_expression_passes_statelint(parameters: dict[str, Any]) -> None:
    definition = compile_document(delay_workflow(parameters)).definition
    assert statelint_problems(definition) == []


def test_compiled_distributed_loop_passes_statelint() -> None:
    compiled = compile_document({"name": "distributed", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["each"]},
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.xs}}", "body": "call", "mode": "distributed"}},
        {"step_id": "call", "step_type": "tool_call", "parameters": {"tool": "t"}},
    ]})
    assert statelint_problems(compiled.definition) == []


# ----------------------------------------------------------------------------- misuse


def test_compile_workflow_refuses_a_workflow_without_trigger() -> None:
    workflow = parse_workflow({"name": "no-trigger", "steps": [{"step_id": "a", "step_type": "data_transform",
                                                                "parameters": {"output": 1}}]}).workflow
    assert isinstance(workflow, Workflow)
    with pytest.raises(ValueError, match="no trigger"):
        compile_workflow(workflow)


def test_compile_workflow_is_deterministic() -> None:
    assert every_step_type().to_json() == every_step_type().to_json()


def test_compile_retry_interval_is_rounded_up_to_whole_seconds() -> None:
    compiled = compile_document({"name": "r", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["t"]},
        {"step_id": "t", "step_type": "tool_call", "parameters": {"tool": "x"}, "retry": {"max_attempts": 3, "backoff_seconds": 0.2}},
    ]})
    intervals = [r["IntervalSeconds"] for r in compiled.definition["States"]["t"]["Retry"]]
    assert all(isinstance(i, int) for i in intervals)
    assert math.ceil(0.2) in intervals
