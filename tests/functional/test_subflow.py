"""The ``subflow`` step on the local engine: a nested execution (``startExecution.sync:2``)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

CHILD = {
    "name": "child-sum",
    "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["sum"]},
        {"step_id": "sum", "step_type": "data_transform",
         "parameters": {"jsonata": "{'total': $sum($input.data.numbers), 'parent': $input.parent.workflowName}"}},
    ],
}
PARENT = {
    "name": "parent-sum",
    "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["nested"]},
        {"step_id": "nested", "step_type": "subflow", "parameters": {"workflow": "child-sum"}, "next_steps": ["report"]},
        {"step_id": "report", "step_type": "data_transform",
         "parameters": {"output": {"total": "{{steps.nested.output.total}}", "from": "{{steps.nested.output.parent}}"}}},
    ],
}
FAILING_CHILD = {
    "name": "child-fails",
    "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["call"]},
        # the address guard refuses loopback: the child fails with TOOL_ERROR at its step 'call'
        {"step_id": "call", "step_type": "api_call", "parameters": {"url": "http://127.0.0.1:9/never"}},
    ],
}
FAILING_PARENT = {
    "name": "parent-of-failure",
    "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["nested"]},
        {"step_id": "nested", "step_type": "subflow", "parameters": {"workflow": "child-fails"}},
    ],
}


def test_subflow_step_output_is_the_child_result(make_engine) -> None:
    engine = make_engine(CHILD, PARENT)
    # the default child input is the chaining shape with `parent`: data = the last output (the trigger's)
    result = engine.run("parent-sum", {"trigger": {"kind": "api", "numbers": [1, 2, 3.5]}})
    assert result.status == "completed", result.record
    assert result.record["result"] == {"total": 6.5, "from": "parent-sum"}
    # the child ran as an execution of its own state machine, and wrote its own result record
    sfn = engine.client("stepfunctions")
    children = sfn.list_executions(stateMachineArn=engine.state_machines["child-sum"])["executions"]
    assert [e["status"] for e in children] == ["SUCCEEDED"]
    assert children[0]["name"].startswith("nested-")
    child_record = engine.result_record("child-sum", children[0]["executionArn"])
    assert child_record["result"] == {"total": 6.5, "parent": "parent-sum"}


def test_subflow_child_failure_fails_the_step_with_the_child_code(make_engine) -> None:
    engine = make_engine(FAILING_CHILD, FAILING_PARENT)
    result = engine.run("parent-of-failure", {})
    assert result.status == "failed"
    error = result.record["error"]
    assert error["code"] == "TOOL_ERROR"
    assert error["step"] == "nested"
    assert "nested execution nested-" in error["message"] and "failed" in error["message"]
    failed = [e for e in result.events if e.kind == "step_failed"]
    assert [e.name for e in failed] == ["nested"]


def test_repository_subflow_example_runs_the_order_digest(engine, load_example) -> None:
    result = engine.run("weekly-account-review", load_example("weekly-account-review.input.json"))
    assert result.status == "completed", result.record
    assert result.record["result"]["accounts"] == 2
    assert result.record["result"]["review"] in ("needs attention", "fine")
    assert isinstance(result.record["result"]["open_orders"], int)
