"""checkov over the synthesized templates: the IAM and log-encryption checks the issue named pass.

checkov lives in ``.venv-tools/`` (``make install``): its pins (boto3 1.35) fight the project's.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from template_reading import logical_id

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv-tools" / "bin" / "checkov"
#: CKV_AWS_108: no data exfiltration (s3:GetObject & co. on "*"); CKV_AWS_111: no write access
#: without constraints; CKV_AWS_158: CloudWatch log group encrypted with KMS.
CHECKS = ("CKV_AWS_108", "CKV_AWS_111", "CKV_AWS_158")


def run_checkov(templates: list[Path]) -> list[dict]:
    """The failed checks of :data:`CHECKS` over ``templates``, as checkov reports them."""
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: `make install` creates it")
    command = [str(CHECKOV), "--framework", "cloudformation", "--check", ",".join(CHECKS), "--output", "json",
               "--quiet", "--compact", "--skip-download"]
    for template in templates:
        command += ["--file", str(template)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: some check failed
    reports = json.loads(done.stdout) if done.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    return [failed for report in reports for failed in report.get("results", {}).get("failed_checks", [])]


@pytest.fixture(scope="module")
def failures(repo_app) -> list[dict]:
    return run_checkov(repo_app.template_paths())


@pytest.mark.slow
@pytest.mark.parametrize("check", ["CKV_AWS_108", "CKV_AWS_111"])
def test_checkov_iam_checks_pass_every_template(failures, check):
    assert [f"{f['file_path']}: {f['resource']}" for f in failures if f["check_id"] == check] == []


@pytest.mark.slow
def test_checkov_finds_state_machine_log_groups_encrypted(repo_app, failures):
    stack = repo_app.stacks.workflows
    groups = {f"AWS::Logs::LogGroup.{logical_id(stack, m.log_group)}" for m in stack.state_machines.values()}
    assert groups
    assert sorted(f["resource"] for f in failures if f["check_id"] == "CKV_AWS_158" and f["resource"] in groups) == []


@pytest.mark.slow
def test_checkov_reports_what_it_is_asked_to_check(tmp_path):
    # GIVEN a template with an unencrypted log group and a role that may read every S3 object
    template = {"Resources": {
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "lambda.amazonaws.com"}}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "ecr:PutImage"], "Resource": "*"}]}}]}},
    }}
    path = tmp_path / "bad.template.json"
    path.write_text(json.dumps(template))
    assert {f["check_id"] for f in run_checkov([path])} == set(CHECKS)
