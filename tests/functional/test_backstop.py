"""Executions that end outside the state machine's own tail still get their result record."""

from __future__ import annotations

import json

import pytest

from stepgraph.local.engine import RESULTS_BUCKET_NAME

pytestmark = pytest.mark.slow


def _approval_workflow() -> dict:
    return {"name": "held", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["ask"]},
        {"step_id": "ask", "step_type": "human_approval", "parameters": {"approvers": ["ops@example.com"]}},
    ]}


def test_stopped_execution_gets_a_cancelled_record(make_engine):
    engine = make_engine(_approval_workflow())

    class GiveUp(Exception):
        pass

    def give_up(approval):
        raise GiveUp("nobody is around to approve")

    with pytest.raises(GiveUp):
        engine.run("held", {"session_id": "s-1"}, on_approval=give_up, name="stopped-1")

    body = engine.client("s3").get_object(Bucket=RESULTS_BUCKET_NAME, Key="results/held/stopped-1.json")["Body"].read()
    record = json.loads(body)
    assert record["status"] == "failed"
    assert record["error"]["code"] == "CANCELLED"
    assert record["error"]["step"] == "ask"
    assert record["sessionId"] == "s-1"


def test_uncatchable_data_limit_error_still_gets_a_record(make_engine):
    engine = make_engine({"name": "huge", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["blow_up"]},
        {"step_id": "blow_up", "step_type": "data_transform", "parameters": {"jsonata": "$pad('', 300000, 'x')"}},
    ]})
    result = engine.run("huge", {}, name="huge-1")
    assert result.record["status"] == "failed"
    assert result.record["error"]["code"] == "AGENT_ERROR"
    assert "States.DataLimitExceeded" in result.record["error"]["message"]
    assert result.record["error"]["step"] == "blow_up"

