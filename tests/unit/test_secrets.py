"""``{{secrets.<name>}}`` in api_call headers: resolved by the Lambda at call time, never in the state machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepgraph import compile_workflow, parse_workflow, validate_workflow

ROOT = Path(__file__).resolve().parents[2]


def _workflow(headers: dict, url: str = "https://payments.example.com/refunds/{{input.order_id}}", extra: list | None = None):
    return parse_workflow({"name": "pay", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["refund"]},
        {"step_id": "refund", "step_type": "api_call",
         "parameters": {"url": url, "method": "POST", "headers": headers, "body": {"amount": "{{input.amount}}"}},
         "next_steps": [s["step_id"] for s in (extra or [])][:1]},
        *(extra or []),
    ]}).workflow


def test_secret_header_compiles_to_parts_naming_the_secret_never_its_value() -> None:
    workflow = _workflow({"Authorization": "Bearer {{secrets.payments_api_key}}", "X-Order": "{{input.order_id}}"})
    assert validate_workflow(workflow) == []
    compiled = compile_workflow(workflow)
    arguments = compiled.definition["States"]["refund"]["Arguments"]["Payload"]
    assert arguments["secret_headers"] == ["Authorization"]
    assert arguments["secrets"] == ["payments_api_key"]
    assert arguments["headers"]["Authorization"] == {"parts": ["Bearer ", {"secret": "payments_api_key"}]}
    assert arguments["headers"]["X-Order"].startswith("{%")  # an ordinary template
    assert compiled.secrets == ("payments_api_key",)
    assert "secrets." not in compiled.to_json()


def test_secret_outside_api_call_headers_is_a_validation_error() -> None:
    workflow = _workflow({}, extra=[{"step_id": "leak", "step_type": "data_transform",
                                     "parameters": {"output": {"key": "{{secrets.payments_api_key}}"}}}])
    issues = validate_workflow(workflow)
    assert [(i.step_id, i.path) for i in issues] == [("leak", "steps[2].parameters.output")]
    assert "only read in an api_call step's headers" in issues[0].message


def test_secret_sent_to_a_templated_host_is_a_validation_error() -> None:
    workflow = _workflow({"Authorization": "Bearer {{secrets.payments_api_key}}"}, url="{{input.callback_url}}")
    issues = validate_workflow(workflow)
    assert [(i.step_id, i.path) for i in issues] == [("refund", "steps[1].parameters.url")]
    assert "scheme and host literally" in issues[0].message


def test_api_call_handler_resolves_only_the_declared_secret_headers(monkeypatch) -> None:
    from lambda_support import load_handler

    handler = load_handler("api_call")
    monkeypatch.setattr(handler, "_secret_value", lambda name: {"payments_api_key": "s3cr3t"}[name])
    issues: list[str] = []
    headers = handler._with_secrets({"Authorization": {"parts": ["Bearer ", {"secret": "payments_api_key"}]},
                                     "X-Other": {"parts": [{"secret": "payments_api_key"}]}},
                                    ["Authorization"], ["payments_api_key"], issues)
    assert headers["Authorization"] == "Bearer s3cr3t" and issues == []
    # an object smuggled into a header the step did not declare stays an object, and is refused
    assert handler._headers(headers, issues) == {"Authorization": "Bearer s3cr3t"}
    assert issues == ["header 'X-Other' must be a string, number or boolean, got dict"]
    # a secret the step does not name is never read
    issues = []
    handler._with_secrets({"Authorization": {"parts": [{"secret": "other_key"}]}}, ["Authorization"], ["payments_api_key"], issues)
    assert issues == ["header 'Authorization' has a part that is neither text nor one of the step's secrets"]
