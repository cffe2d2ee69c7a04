"""Secrets named by api_call headers: read granted to the api_call function on exactly those secrets."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import FIXTURE_PROJECT, REPO, synthesize
from template_reading import as_list, render, resources_of_type

pytestmark = pytest.mark.slow


def test_api_call_function_may_read_exactly_the_named_secrets(tmp_path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, project)
    (project / "workflows" / "secret-flow.json").write_text(json.dumps({"name": "secret-flow", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["pay"]},
        {"step_id": "pay", "step_type": "api_call", "parameters": {
            "url": "https://payments.example.com/refunds", "method": "POST",
            "headers": {"Authorization": "Bearer {{secrets.payments_api_key}}"}}},
    ]}), encoding="utf-8")
    app = synthesize(project, tmp_path / "cdk.out", lambdas_dir=REPO / "lambdas")
    template = app.template_json(app.stacks.workflows)
    reads = [s for policy in resources_of_type(template, "AWS::IAM::Policy").values()
             for s in policy["Properties"]["PolicyDocument"]["Statement"]
             if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    resources = sorted({render(r) for s in reads for r in as_list(s["Resource"])})
    webhook_secrets = [r for r in resources if "webhook" in r.lower() or r.startswith("<Webhook")]
    assert [r for r in resources if r not in webhook_secrets] == [
        "arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:payments_api_key-??????"]
    # the value is nowhere in the template: only the name travels
    definition = json.dumps(template)
    assert "payments_api_key" in definition and "{{secrets" not in definition
