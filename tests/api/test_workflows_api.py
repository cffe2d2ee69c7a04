"""Workflow and execution endpoints over HTTP against a real local server (SPEC §9)."""

from __future__ import annotations

import json

import pytest

from conftest import FINANCE, wait_for_status

pytestmark = pytest.mark.slow

ROUTES = [
    ("GET", "/api/workflows"), ("POST", "/api/workflows"), ("GET", "/api/workflows/customer-support"),
    ("POST", "/api/workflows/customer-support/execute"), ("GET", "/api/executions"),
    ("GET", "/api/executions/customer-support:x"), ("GET", "/api/executions/customer-support:x/stream"),
    ("POST", "/api/executions/customer-support:x/cancel"), ("GET", "/api/approvals"), ("POST", "/api/approvals/abc"),
]


def _transform_doc(name: str) -> dict:
    return {"name": name, "description": "doubles a number", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["double"]},
        {"step_id": "double", "step_type": "data_transform", "parameters": {"output": {"value": "{{input.n}}", "twice": "{{input.n}}"}}},
    ]}


@pytest.mark.parametrize("method,path", ROUTES)
def test_anonymous_request_is_refused_with_401(api, method, path):
    with api.client(authorization=None) as anonymous:
        response = anonymous.request(method, path, json={"name": "x"} if method == "POST" else None)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert set(response.json()) == {"code", "message", "details"}
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_or_malformed_token_is_refused_with_401(api):
    for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"):
        with api.client(authorization=header) as client:
            assert client.get("/api/workflows").status_code == 401


def test_list_workflows_shows_the_project_workflows(api):
    with api.client() as client:
        listed = client.get("/api/workflows").json()["workflows"]
    by_id = {w["workflow_id"]: w for w in listed}
    assert {"customer-support", "refund-approval", "order-digest"} <= set(by_id)
    assert by_id["customer-support"]["source"] == "project"
    assert by_id["customer-support"]["state_machine_arn"].endswith(":stateMachine:customer-support")


def test_get_workflow_returns_its_document_and_compiled_state_machine(api):
    with api.client() as client:
        found = client.get("/api/workflows/refund-approval")
        missing = client.get("/api/workflows/no-such-workflow")
    assert found.status_code == 200
    body = found.json()
    assert [s["step_id"] for s in body["document"]["steps"]][:2] == ["trigger", "order"]
    assert body["definition"]["StartAt"] == "trigger" and "finance_approval" in body["definition"]["States"]
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


def test_create_workflow_with_problems_lists_every_problem_and_creates_nothing(api):
    document = {"name": "broken-one", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["ghost"]},
        {"step_id": "talk", "step_type": "agent_execution", "parameters": {"agent_id": "no_such_agent"}},
        {"step_id": "check", "step_type": "condition", "parameters": {"condition": "{{input.x}} =="}},
    ]}
    with api.client() as client:
        response = client.post("/api/workflows", json=document)
        after = client.get("/api/workflows/broken-one")
        names = [w["workflow_id"] for w in client.get("/api/workflows").json()["workflows"]]
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    messages = " | ".join(p["message"] for p in body["details"])
    assert len(body["details"]) >= 3, body
    assert "ghost" in messages and "no_such_agent" in messages
    assert {p["step"] for p in body["details"]} >= {"trigger", "talk", "check"}
    assert after.status_code == 404 and "broken-one" not in names


def test_create_workflow_with_a_malformed_body_is_400_with_every_field_named(api):
    with api.client() as client:
        response = client.post("/api/workflows", json={"name": 3, "steps": [{"step_type": "trigger"}]})
        not_json = client.post("/api/workflows", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    paths = {p["path"] for p in response.json()["details"]}
    assert {"name", "steps.0.step_id"} <= paths
    assert not_json.status_code == 400 and not_json.json()["code"] == "VALIDATION_ERROR"


def test_created_workflow_runs_on_the_engine_and_conflicts_when_created_twice(api):
    with api.client() as client:
        created = client.post("/api/workflows", json=_transform_doc("doubler"))
        again = client.post("/api/workflows", json=_transform_doc("doubler"))
        started = client.post("/api/workflows/doubler/execute", json={"n": 21})
        assert started.status_code == 202, started.text
        view = wait_for_status(client, started.json()["execution_id"], {"completed", "failed"})
        listed = {w["workflow_id"]: w for w in client.get("/api/workflows").json()["workflows"]}
    assert created.status_code == 201
    assert created.json()["definition"]["States"]["double"]["Type"] == "Pass"
    assert again.status_code == 409 and again.json()["code"] == "CONFLICT"
    assert view["status"] == "completed"
    assert view["result"] == {"value": 21, "twice": 21}
    assert listed["doubler"]["source"] == "api"


def test_execute_returns_an_id_whose_view_comes_from_the_history(api, support_input):
    with api.client() as client:
        started = client.post("/api/workflows/customer-support/execute", json=support_input)
        assert started.status_code == 202
        body = started.json()
        assert set(body) == {"execution_id", "workflow_id", "status", "started_at"}
        assert body["workflow_id"] == "customer-support" and body["status"] in ("pending", "running")
        view = wait_for_status(client, body["execution_id"], {"completed", "failed"})
    assert view["status"] == "completed"
    assert [s["step_id"] for s in view["steps"]] == ["trigger", "agent", "needs_person", "reply"]
    assert all(s["status"] == "completed" and s["started_at"] and s["completed_at"] for s in view["steps"])
    agent = view["steps"][1]
    assert "ORD-" in agent["result"]["response"]
    assert view["result"]["reply"] == agent["result"]["response"]
    assert view["completed_at"] >= view["started_at"]


def test_execute_with_a_malformed_body_is_400_and_starts_nothing(api):
    with api.client() as client:
        before = len(client.get("/api/executions", params={"workflow_id": "customer-support", "limit": 100}).json()["executions"])
        bad_kind = client.post("/api/workflows/customer-support/execute", json={"trigger": {"kind": "fax"}})
        bad_session = client.post("/api/workflows/customer-support/execute", json={"session_id": "", "context": []})
        not_object = client.post("/api/workflows/customer-support/execute", json=[1, 2])
        after = len(client.get("/api/executions", params={"workflow_id": "customer-support", "limit": 100}).json()["executions"])
    for response in (bad_kind, bad_session, not_object):
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    assert {p["path"] for p in bad_session.json()["details"]} == {"session_id", "context"}
    assert after == before


def test_oversized_bodies_are_refused_with_413_and_start_nothing(api):
    huge_document = _transform_doc("too-big") | {"description": "x" * (1024 * 1024 + 1)}
    huge_input = {"context": {"blob": "y" * (256 * 1024)}}
    with api.client() as client:
        before = len(client.get("/api/executions", params={"workflow_id": "customer-support", "limit": 100}).json()["executions"])
        document = client.post("/api/workflows", content=json.dumps(huge_document), headers={"content-type": "application/json"})
        execute = client.post("/api/workflows/customer-support/execute", json=huge_input)
        after = len(client.get("/api/executions", params={"workflow_id": "customer-support", "limit": 100}).json()["executions"])
        created = client.get("/api/workflows/too-big")
    assert document.status_code == 413 and document.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert execute.status_code == 413 and execute.json()["details"] == {"limit_bytes": 256 * 1024}
    assert after == before and created.status_code == 404


def test_list_executions_filters_by_workflow_and_status_and_pages(api):
    with api.client() as client:
        ids = [client.post("/api/workflows/doubler/execute", json={"n": i}).json()["execution_id"] for i in range(3)]
        for execution in ids:
            wait_for_status(client, execution, {"completed"})
        first = client.get("/api/executions", params={"workflow_id": "doubler", "status": "completed", "limit": 2}).json()
        second = client.get("/api/executions", params={"workflow_id": "doubler", "status": "completed", "limit": 2,
                                                       "next_token": first["next_token"]}).json()
        failed = client.get("/api/executions", params={"workflow_id": "doubler", "status": "failed"}).json()
        bad = client.get("/api/executions", params={"status": "sleeping"})
        bad_token = client.get("/api/executions", params={"next_token": "garbage"})
    page_ids = [e["execution_id"] for e in first["executions"] + second["executions"]]
    assert len(first["executions"]) == 2 and first["next_token"]
    assert len(page_ids) == len(set(page_ids)) and set(ids) <= set(page_ids)
    starts = [e["started_at"] for e in first["executions"] + second["executions"]]
    assert starts == sorted(starts, reverse=True)
    assert all(e["workflow_id"] == "doubler" and e["status"] == "completed" for e in first["executions"])
    assert failed["executions"] == []
    assert bad.status_code == 400 and bad_token.status_code == 400


def test_get_unknown_execution_is_404(api):
    with api.client() as client:
        for execution_id in ("customer-support:nope", "no-colon", "ghost-workflow:abc"):
            response = client.get(f"/api/executions/{execution_id}")
            assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_cancel_a_waiting_execution_marks_it_and_its_approval_cancelled(api, refund_input):
    with api.client(FINANCE) as client:
        execution_id = client.post("/api/workflows/refund-approval/execute", json=refund_input).json()["execution_id"]
        wait_for_status(client, execution_id, {"waiting"})
        (approval,) = [a for a in client.get("/api/approvals").json()["approvals"] if a["execution_id"] == execution_id]
        cancelled = client.post(f"/api/executions/{execution_id}/cancel")
        view = client.get(f"/api/executions/{execution_id}").json()
        again = client.post(f"/api/executions/{execution_id}/cancel")
        late = client.post(f"/api/approvals/{approval['approval_id']}", json={"decision": "approved"})
        listed = client.get("/api/approvals", params={"status": "cancelled"}).json()["approvals"]
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert view["status"] == "cancelled"
    assert again.status_code == 409
    assert late.status_code == 409 and late.json()["code"] == "CONFLICT"
    assert approval["approval_id"] in {a["approval_id"] for a in listed}
