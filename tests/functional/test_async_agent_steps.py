"""Async agent steps run locally (issue 14): the agent answers at once, works as an AgentCore async task,
heartbeats through the local gateway, and ends its step itself; each run ends with one result record."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from stepgraph import load_project
from stepgraph.local import LocalEngine
from stepgraph.local.agentcore import local_runtime_arn

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "agents"


def workflow(heartbeat_seconds: int = 2) -> dict:
    return {"name": "long-research", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["research"]},
        {"step_id": "research", "step_type": "agent_execution",
         "parameters": {"agent_id": "long_worker", "mode": "async", "timeout_seconds": 60,
                        "heartbeat_seconds": heartbeat_seconds}},
    ]}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("async-project")
    (root / "workflows").mkdir()
    (root / "agents").mkdir()
    shutil.copytree(FIXTURES / "long_worker", root / "agents" / "long_worker")
    for name in ("lambdas", "tools"):
        (root / name).symlink_to(ROOT / name)
    (root / "workflows" / "long-research.json").write_text(json.dumps(workflow()), encoding="utf-8")
    with LocalEngine(load_project(root), results_dir=root / "results") as running:
        yield running


def records_of(engine, execution_arn: str) -> list[dict]:
    s3 = engine.client("s3")
    name = execution_arn.rsplit(":", 1)[-1]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="stepgraph-results-local").get("Contents", []) if name in o["Key"]]
    return [json.loads(s3.get_object(Bucket="stepgraph-results-local", Key=k)["Body"].read()) for k in keys]


def tokens_heartbeated(engine) -> list[str]:
    return [token for action, token in engine.gateway.callback_log if action == "SendTaskHeartbeat"]


def test_async_step_answers_at_once_is_busy_heartbeats_and_completes_with_its_result(engine):
    started = time.monotonic()
    result = engine.run("long-research", {"behaviour": "work", "seconds": 3})

    assert result.status == "completed", result.record
    assert result.record["result"] == {"done": True, "ping_while_working": "HealthyBusy"}
    assert time.monotonic() - started >= 3
    assert len(tokens_heartbeated(engine)) >= 2  # every heartbeat_seconds / 3 while it worked
    assert [a for a, _ in engine.gateway.callback_log].count("SendTaskSuccess") == 1
    assert len(records_of(engine, result.execution_arn)) == 1
    # one trace: the step events and the agent's traceparent share the execution's trace id
    (trace_id,) = {e.trace_id for e in result.events}
    sent = [tp for arn, _, _, tp in engine.gateway.invocations if arn == local_runtime_arn("long_worker")]
    assert sent and sent[-1].split("-")[1] == trace_id
    assert json.loads(json.dumps(result.events[0].to_dict()))["trace_id"] == trace_id


def test_finished_execution_stops_its_agent_session(engine):
    result = engine.run("long-research", {"behaviour": "work", "seconds": 0.5, "session_id": "research-session-0042"})

    assert result.status == "completed"
    from stepgraph_runtime.sessions import runtime_session_id

    assert (local_runtime_arn("long_worker"), runtime_session_id("research-session-0042")) in engine.gateway.stopped_sessions


def test_async_agent_that_stops_heartbeating_fails_the_step_with_timeout(engine):
    started = time.monotonic()
    result = engine.run("long-research", {"behaviour": "silent"})

    assert result.status == "failed"
    assert result.record["error"]["code"] == "TIMEOUT"
    assert result.record["error"]["step"] == "research"
    assert time.monotonic() - started < 30  # the 2 s heartbeat ended it, not the 60 s timeout
    assert len(records_of(engine, result.execution_arn)) == 1


def test_async_agent_that_raises_fails_the_step_with_agent_error(engine):
    result = engine.run("long-research", {"behaviour": "raise"})

    assert result.status == "failed"
    assert result.record["error"]["code"] == "AGENT_ERROR"
    assert "the research site refused the query" in result.record["error"]["message"]
    assert len(records_of(engine, result.execution_arn)) == 1
