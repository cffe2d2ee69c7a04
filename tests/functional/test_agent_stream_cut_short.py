"""An agent that dies partway through its event-stream answer (issue 11, item 2): the step fails, nothing partial passes.

Its own module, so its engine (whose agent process does not survive) runs alone.
"""

from __future__ import annotations

import pytest
from test_hardening import make_engine

from stepgraph.local.engine import RESULTS_BUCKET_NAME

pytestmark = pytest.mark.slow

DIES = {"name": "dies", "steps": [
    {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
    {"step_id": "agent", "step_type": "agent_execution",
     "parameters": {"agent_id": "faulty", "timeout_seconds": 30, "payload": {"mode": "die"}}},
]}


def test_agent_dying_mid_stream_fails_the_step_with_agent_error(tmp_path_factory):
    with make_engine(tmp_path_factory, "dies", {"dies": DIES}) as engine:  # its own engine: the agent process does not survive
        result = engine.run("dies", {}, name="dies-mid-stream")
        keys = [o["Key"] for o in engine.client("s3").list_objects_v2(
            Bucket=RESULTS_BUCKET_NAME, Prefix="results/dies/").get("Contents", [])]

    assert result.record["status"] == "failed"
    assert result.record["error"]["code"] == "AGENT_ERROR"
    assert result.record["error"]["step"] == "agent"
    assert "cut short" in result.record["error"]["message"]
    assert keys == ["results/dies/dies-mid-stream.json"]  # one record
    assert not any(e.kind == "step_complete" and e.name == "agent" for e in result.events)
