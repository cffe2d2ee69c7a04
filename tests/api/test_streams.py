"""The execution event stream (SSE) over HTTP: order, deltas while the step runs, resume, replay, heartbeats."""

from __future__ import annotations

import time

import pytest

from conftest import FINANCE, wait_for_status
from sse import follow, read_events

pytestmark = pytest.mark.slow

STREAMER = {"name": "slow-stream", "description": "one slowly streaming agent", "steps": [
    {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["talk"]},
    {"step_id": "talk", "step_type": "agent_execution", "parameters": {"agent_id": "slow_streamer", "timeout_seconds": 60}},
]}


def _ids(events):
    return [e.id for e in events]


def _key(event_id: str) -> tuple[int, int, int]:
    return tuple(int(p) for p in event_id.split("."))


def _history(events):
    """What the execution did: the events minus the connection's own (connected, heartbeat)."""
    return [(e.event, e.id) for e in events if e.event not in ("connected", "heartbeat")]


def test_stream_follows_customer_support_from_connected_to_complete(api, support_input):
    with api.client() as client:
        execution_id = client.post("/api/workflows/customer-support/execute", json=support_input).json()["execution_id"]
        events = follow(client, execution_id)
    names = [e.event for e in events if e.event != "heartbeat"]
    assert names[0] == "connected" and names[-1] == "complete"
    assert names[1:3] == ["status", "step_start"] and events[1].data["status"] == "running"
    starts = [e.data["step_id"] for e in events if e.event == "step_start"]
    completes = [e.data["step_id"] for e in events if e.event == "step_complete"]
    assert starts == completes == ["trigger", "agent", "needs_person", "reply"]
    agent_done = next(e for e in events if e.event == "step_complete" and e.data["step_id"] == "agent")
    assert "ORD-" in agent_done.data["result"]["response"]
    complete = events[-1].data
    assert complete["status"] == "completed" and complete["result"]["reply"] == agent_done.data["result"]["response"]
    assert all(e.id for e in events)
    keys = [_key(e.id) for e in events if e.event not in ("connected", "heartbeat")]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_streaming_agent_delivers_deltas_before_its_step_completes(api):
    with api.client() as client:
        if client.get("/api/workflows/slow-stream").status_code == 404:
            assert client.post("/api/workflows", json=STREAMER).status_code == 201
        execution_id = client.post("/api/workflows/slow-stream/execute", json={"words": 6, "pause": 0.4}).json()["execution_id"]
        events = follow(client, execution_id)
    deltas = [e for e in events if e.event == "delta"]
    done = next(e for e in events if e.event == "step_complete" and e.data["step_id"] == "talk")
    assert [d.data["text"] for d in deltas] == [f"word{i} " for i in range(6)]
    assert all(d.data["step_id"] == "talk" for d in deltas)
    # the first chunk reached the client while the agent was still talking: about 2 s before the end
    assert done.received - deltas[0].received > 1.0, (deltas[0].received, done.received)
    assert events.index(deltas[-1]) < events.index(done)
    assert done.data["result"]["response"] == "".join(d.data["text"] for d in deltas)


def test_reconnecting_with_last_event_id_resumes_with_no_gap_and_no_duplicate(api):
    with api.client() as client:
        execution_id = client.post("/api/workflows/slow-stream/execute", json={"words": 8, "pause": 0.2}).json()["execution_id"]
        head = follow(client, execution_id, stop_after=7)  # hang up part-way, deltas included
        resumed = follow(client, execution_id, last_event_id=head[-1].id)
        replay = follow(client, execution_id)
    assert resumed[0].event == "connected" and resumed[0].data["resumed_after"] == head[-1].id
    assert _history(head) + _history(resumed) == _history(replay)
    assert [e.event for e in replay].count("delta") == 8


def test_stream_opened_after_the_end_replays_it_and_a_resume_at_the_end_gets_204(api, support_input):
    with api.client() as client:
        execution_id = client.post("/api/workflows/customer-support/execute", json=support_input).json()["execution_id"]
        wait_for_status(client, execution_id, {"completed"})
        replay = follow(client, execution_id)
        at_end = client.get(f"/api/executions/{execution_id}/stream", headers={"Last-Event-ID": replay[-1].id})
        bad = client.get(f"/api/executions/{execution_id}/stream", headers={"Last-Event-ID": "yesterday"})
    assert replay[0].event == "connected" and replay[-1].event == "complete"
    assert [e.data["step_id"] for e in replay if e.event == "step_complete"] == ["trigger", "agent", "needs_person", "reply"]
    assert at_end.status_code == 204
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"


def test_stream_of_a_waiting_execution_says_waiting_and_sends_heartbeats(api, refund_input):
    with api.client(FINANCE) as client:
        execution_id = client.post("/api/workflows/refund-approval/execute", json=refund_input).json()["execution_id"]
        wait_for_status(client, execution_id, {"waiting"})
        seen = []
        started = time.monotonic()
        with client.stream("GET", f"/api/executions/{execution_id}/stream") as response:
            for event in read_events(response):
                seen.append(event)
                if sum(e.event == "heartbeat" for e in seen) >= 2 or time.monotonic() - started > 10:
                    break
        client.post(f"/api/executions/{execution_id}/cancel")
    waiting = [e for e in seen if e.event == "status" and e.data["status"] == "waiting"]
    assert waiting and waiting[0].data["step_id"] == "finance_approval"
    tool_calls = [e for e in seen if e.event == "tool_call"]
    tool_results = [e for e in seen if e.event == "tool_result"]
    assert tool_calls[0].data == {**tool_calls[0].data, "step_id": "order", "tool": "lookup_order", "arguments": {"order_id": "ORD-1001"}}
    assert tool_results[0].data["result"]["total"] > 100
    heartbeats = [e for e in seen if e.event == "heartbeat"]
    assert len(heartbeats) == 2 and all(h.id == seen[-3].id or h.id for h in heartbeats)
    assert heartbeats[1].received - heartbeats[0].received == pytest.approx(1.0, abs=0.5)
