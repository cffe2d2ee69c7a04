"""Human approvals through the API: only a listed approver decides, as their verified identity (SPEC §9, §14)."""

from __future__ import annotations

import json

import pytest

from conftest import CFO, FINANCE, MALLORY, wait_for_status
from sse import follow

pytestmark = pytest.mark.slow


def _pending_for(client, execution_id: str) -> dict:
    (approval,) = [a for a in client.get("/api/approvals", params={"status": "pending"}).json()["approvals"]
                   if a["execution_id"] == execution_id]
    return approval


def test_refund_approval_is_decided_only_by_a_listed_approver_as_their_verified_identity(api, refund_input):
    with api.client(FINANCE) as finance, api.client(MALLORY) as mallory, api.client(CFO) as cfo:
        execution_id = finance.post("/api/workflows/refund-approval/execute", json=refund_input).json()["execution_id"]
        waiting = wait_for_status(finance, execution_id, {"waiting"})
        approval = _pending_for(finance, execution_id)
        refused = mallory.post(f"/api/approvals/{approval['approval_id']}", json={"decision": "approved", "comment": "sure"})
        still = finance.get(f"/api/executions/{execution_id}").json()
        approved = finance.post(f"/api/approvals/{approval['approval_id']}", json={"decision": "approved", "comment": "ok, refund"})
        done = wait_for_status(finance, execution_id, {"completed", "failed"})
        second = cfo.post(f"/api/approvals/{approval['approval_id']}", json={"decision": "rejected"})
        events = follow(finance, execution_id)
    assert [s["status"] for s in waiting["steps"] if s["step_id"] == "finance_approval"] == ["waiting"]
    assert approval["approvers"] == ["finance@example.com", "cfo@example.com"] and "ORD-1001" in approval["message"]
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    assert "mallory@example.com" in refused.json()["message"]
    assert still["status"] == "waiting"
    assert approved.status_code == 200
    decided = approved.json()
    assert (decided["status"], decided["approver"], decided["approver_verified_by"]) == ("approved", "finance@example.com", "token")
    assert done["status"] == "completed"
    assert done["result"]["refunded"] is True and done["result"]["approved_by"] == "finance@example.com"
    assert second.status_code == 409 and second.json()["code"] == "CONFLICT"
    statuses = [e.data["status"] for e in events if e.event == "status"]
    assert statuses == ["running", "waiting", "running", "completed"]
    record_key = f"results/refund-approval/{execution_id.split(':', 1)[1]}.json"
    record = json.loads(api.engine.client("s3").get_object(Bucket="stepgraph-results-local", Key=record_key)["Body"].read())
    assert record["result"]["approved_by"] == "finance@example.com"
    assert any(r["order_id"] == "ORD-1001" for r in api.refunds.values())


def test_rejection_by_an_approver_takes_the_else_branch_with_their_comment(api, refund_input):
    with api.client(CFO) as cfo:
        execution_id = cfo.post("/api/workflows/refund-approval/execute", json=refund_input).json()["execution_id"]
        wait_for_status(cfo, execution_id, {"waiting"})
        approval = _pending_for(cfo, execution_id)
        rejected = cfo.post(f"/api/approvals/{approval['approval_id']}", json={"decision": "rejected", "comment": "too much"})
        done = wait_for_status(cfo, execution_id, {"completed", "failed"})
        decided = cfo.get("/api/approvals", params={"status": "rejected"}).json()["approvals"]
    assert rejected.status_code == 200
    assert done["result"] == {"order_id": "ORD-1001", "refunded": False, "reason": "declined by cfo@example.com: too much"}
    assert approval["approval_id"] in {a["approval_id"] for a in decided}


def test_decision_bodies_are_validated_and_cannot_name_a_decider(api):
    with api.client(FINANCE) as client:
        unknown = client.post("/api/approvals/000000000000000000000000", json={"decision": "approved"})
        maybe = client.post("/api/approvals/000000000000000000000000", json={"decision": "maybe"})
        claimed = client.post("/api/approvals/000000000000000000000000",
                              json={"decision": "approved", "approver": "cfo@example.com"})
        bad_status = client.get("/api/approvals", params={"status": "sideways"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    assert maybe.status_code == 400 and maybe.json()["details"][0]["path"] == "decision"
    assert claimed.status_code == 400 and claimed.json()["details"][0]["path"] == "approver"
    assert bad_status.status_code == 400
