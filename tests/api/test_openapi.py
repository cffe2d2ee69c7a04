"""The OpenAPI document kept in the repository is the code's, and the API answers it without a server error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from conftest import FINANCE

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))


def test_openapi_document_in_the_repository_matches_the_code():
    from stepgraph.api.openapi import render

    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is out of date: run  .venv/bin/python -m stepgraph.api.openapi > docs/openapi.json")


def test_openapi_document_declares_bearer_auth_and_the_error_shape():
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
            assert operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
            assert "422" not in operation["responses"], (method, path)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_generated_requests_without_a_server_error(case, api):
    case.call_and_validate(base_url=api.url, headers={"Authorization": FINANCE}, timeout=30,
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance])
