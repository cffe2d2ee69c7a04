"""Step outputs in Step Functions variables (docs/design.md, "The state document"): what each
scope assigns and reads, run on the in-memory interpreter of test_compiler (Step Functions'
variable rules: values apply when a state ends, inner scopes read outer ones and may not assign
them, a distributed Map's children read none)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from stepgraph import compile_workflow, parse_workflow


def _load_sibling(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_stepgraph_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_compiler_tests = _load_sibling("test_compiler")
run_definition = _compiler_tests.run_definition
result_record = _compiler_tests.result_record
statelint_problems = _compiler_tests.statelint_problems


def compile_document(document: dict) -> dict:
    parsed = parse_workflow(document)
    assert parsed.issues == [] and parsed.workflow is not None
    return compile_workflow(parsed.workflow).definition


def test_step_not_run_on_the_path_taken_reads_null() -> None:
    definition = compile_document({"name": "paths", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["route"]},
        {"step_id": "route", "step_type": "condition", "parameters": {"condition": "{{input.big}} == true"},
         "next_steps": ["big"], "else_steps": ["small"]},
        {"step_id": "big", "step_type": "data_transform", "parameters": {"output": "B"}, "next_steps": ["join"]},
        {"step_id": "small", "step_type": "data_transform", "parameters": {"output": "S"}, "next_steps": ["join"]},
        {"step_id": "join", "step_type": "data_transform",
         "parameters": {"output": {"big": "{{steps.big.output}}", "small": "{{steps.small.output}}"}}},
    ]})
    assert result_record(run_definition(definition, {"big": True}))["result"] == {"big": "B", "small": None}
    assert result_record(run_definition(definition, {}))["result"] == {"big": None, "small": "S"}
    # only read steps get a variable, set to null by the trigger
    assert set(definition["States"]["trigger"]["Assign"]) == {"input", "trigger", "s_big", "s_small"}
    assert "Assign" not in definition["States"]["join"]


def test_distributed_body_reads_outer_values_its_selector_carries() -> None:
    # GIVEN a distributed loop whose body reads the input, an outer step and its item
    definition = compile_document({"name": "dist", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["base"]},
        {"step_id": "base", "step_type": "data_transform", "parameters": {"output": {"k": 10}}, "next_steps": ["each"]},
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.xs}}", "body": "one", "mode": "distributed"}},
        {"step_id": "one", "step_type": "data_transform", "parameters": {"output": {"x": "{{item}}", "k": "{{steps.base.output.k}}"}},
         "next_steps": ["two"]},
        {"step_id": "two", "step_type": "data_transform",
         "parameters": {"output": {"x": "{{steps.one.output.x}}", "i": "{{index}}", "tag": "{{input.tag}}", "k": "{{steps.base.output.k}}"}}},
    ]})
    # WHEN it runs (its children see no outer variable) THEN every value arrives
    record = result_record(run_definition(definition, {"xs": ["a", "b"], "tag": "t"}))
    assert record["result"] == [{"x": "a", "i": 0, "tag": "t", "k": 10}, {"x": "b", "i": 1, "tag": "t", "k": 10}]
    selector = definition["States"]["base"]["Next"] and definition["States"]["each"]["ItemSelector"]
    assert set(selector) == {"item", "index", "input", "steps"} and set(selector["steps"]) == {"base"}
    assert statelint_problems(definition) == []


def test_loop_body_starting_with_a_parallel_assigns_the_item_first() -> None:
    definition = compile_document({"name": "nested", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["each"]},
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.xs}}", "body": "fan"}},
        {"step_id": "fan", "step_type": "parallel", "next_steps": ["left", "right"]},
        {"step_id": "left", "step_type": "data_transform", "parameters": {"output": "L{{item}}"}},
        {"step_id": "right", "step_type": "data_transform", "parameters": {"output": "R{{index}}"}},
    ]})
    body = definition["States"]["each"]["ItemProcessor"]
    assert body["StartAt"] == "fan (item)"
    assert result_record(run_definition(definition, {"xs": [1, 2]}))["result"] == [
        {"left": "L1", "right": "R0"}, {"left": "L2", "right": "R1"}]


def test_failure_inside_a_branch_is_assigned_as_error_and_recorded() -> None:
    definition = compile_document({"name": "fails", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["fan"]},
        {"step_id": "fan", "step_type": "parallel", "next_steps": ["call"]},
        {"step_id": "call", "step_type": "tool_call", "parameters": {"tool": "t"}},
    ]})

    def tool(name: str, payload: Any) -> Any:
        raise _compiler_tests.StateFailed("TOOL_ERROR", '{"errorMessage": "no"}')

    run = run_definition(definition, {}, tool)
    assert result_record(run)["error"] == {"code": "TOOL_ERROR", "message": "no", "step": "call"}
    assert run.visited[-3:] == ["Store failure", "Publish failure", "Execution failed"]
