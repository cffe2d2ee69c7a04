"""Chaining (SPEC §5): an upstream result starts its downstream workflows through the results topic."""

from __future__ import annotations

import json

import pytest

from stepgraph import WorkflowValidationError, load_project

pytestmark = pytest.mark.slow


def _upstream(on_complete: list[dict], *, fail: bool = False) -> dict:
    last = {"step_id": "collect", "step_type": "data_transform", "parameters": {"output": {"orders": ["ORD-1", "ORD-2"]}}}
    steps = [{"step_id": "trigger", "step_type": "trigger", "next_steps": ["collect"]}, last]
    if fail:
        last["next_steps"] = ["gate"]
        steps.append({"step_id": "gate", "step_type": "human_approval", "parameters": {"approvers": ["ops@example.com"]}})
    return {"name": "collect", "steps": steps, "on_complete": on_complete}


def _downstream(name: str) -> dict:
    return {"name": name, "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["use"]},
        {"step_id": "use", "step_type": "data_transform",
         "parameters": {"output": {"got": "{{input.data}}", "session": "{{input.sessionId}}", "from": "{{input.upstream.workflowName}}"}}},
    ]}


def test_completed_upstream_starts_downstream_with_data_and_session(make_engine):
    engine = make_engine(_upstream([{"workflow": "notify", "when": "completed"}]), _downstream("notify"))
    result = engine.run("collect", {"session_id": "sess-123"})
    assert result.status == "completed"
    (downstream,) = result.chained
    assert downstream.record["workflowName"] == "notify"
    assert downstream.record["result"] == {"got": {"orders": ["ORD-1", "ORD-2"]}, "session": "sess-123", "from": "collect"}
    assert downstream.record["sessionId"] == "sess-123"
    assert result.all_completed


def test_filter_policy_starts_only_the_targets_of_the_status(make_engine):
    engine = make_engine(
        _upstream([{"workflow": "on-success", "when": "completed"}, {"workflow": "on-failure", "when": "failed"}], fail=True),
        _downstream("on-success"), _downstream("on-failure"),
        approval_decision="rejected",
    )
    result = engine.run("collect", {})
    assert result.status == "failed"
    assert [r.record["workflowName"] for r in result.chained] == ["on-failure"]
    assert not result.all_completed


def test_redelivered_result_does_not_start_downstream_twice(make_engine):
    engine = make_engine(_upstream([{"workflow": "notify"}]), _downstream("notify"))
    result = engine.run("collect", {}, follow_chain=False)
    record = result.record
    message = {"Type": "Notification", "Message": json.dumps(record),
               "MessageAttributes": {"workflowName": {"Type": "String", "Value": "collect"}, "status": {"Type": "String", "Value": "completed"}}}
    event = {"Records": [{"EventSource": "aws:sns", "Sns": message}]}
    first = json.loads(engine.registry.invoke("stepgraph-chain", json.dumps(event), {}))
    second = json.loads(engine.registry.invoke("stepgraph-chain", json.dumps(event), {}))
    assert first["started"] == second["started"]
    machine = engine.state_machines["notify"]
    executions = engine.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    # one from the topic delivery waiting in the queue is not handed over (follow_chain=False)
    assert len(executions) == 1


def test_chain_cycle_is_rejected_before_anything_runs(tmp_path):
    (tmp_path / "workflows").mkdir()
    for name, target in (("a", "b"), ("b", "a")):
        doc = _downstream(name) | {"on_complete": [{"workflow": target}]}
        (tmp_path / "workflows" / f"{name}.json").write_text(json.dumps(doc))
    with pytest.raises(WorkflowValidationError) as raised:
        load_project(tmp_path)
    assert any("loop forever" in issue.message for issue in raised.value.issues)
