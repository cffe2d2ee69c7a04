"""``app.py``: CDK's CloudFormation validation engine started on a second thread, and what may overlap it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import aws_cdk as cdk
import pytest

from conftest import REPO  # puts the repository on sys.path

import app as app_module  # noqa: E402 - the repository's app.py

# In a fresh interpreter (nothing of `stacks` imported yet): every request `app.load` sends
# to the jsii kernel. While the validation engine is being created, there must be none.
_RECORD_LOAD_CALLS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import jsii
import app

calls = []

class Recording:
    def __init__(self, provider):
        self._provider = provider

    def __getattr__(self, name):
        calls.append(name)
        return getattr(self._provider, name)

jsii.kernel.provider = Recording(jsii.kernel.provider)
app.load(app.ROOT)
print(json.dumps(calls))
"""


def test_load_makes_no_jsii_call() -> None:
    done = subprocess.run([sys.executable, "-c", _RECORD_LOAD_CALLS, str(REPO)], capture_output=True, text=True,
                          env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1"}, check=True)
    calls = json.loads(done.stdout.strip().splitlines()[-1])
    assert calls == [], f"importing stacks/stepgraph or loading the project made jsii calls: {calls}"


def _analytics(template: dict) -> str:
    """CDK's ``AWS::CDK::Metadata`` ``Analytics`` string, decoded (``v2:deflate64:<gzip, base64>``)."""
    (metadata,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CDK::Metadata"]
    encoded = metadata["Properties"]["Analytics"].split(":", 2)[2]
    return zlib.decompress(base64.b64decode(encoded), 16 + zlib.MAX_WBITS).decode()


def test_app_after_the_head_start_is_validated_as_before(tmp_path: Path) -> None:
    future = app_module.start_cloudformation_validation()
    assert future is not None
    future.result()  # before any other jsii call: the kernel serves one thread at a time
    app = cdk.App(outdir=str(tmp_path), analytics_reporting=True)  # as under the CDK CLI
    stack = cdk.Stack(app, "Checked")
    # two findings of CDK's CloudFormation validation (reported as warnings): an unknown
    # property and a bucket name outside S3's pattern
    cdk.CfnResource(stack, "Bucket", type="AWS::S3::Bucket", properties={"BucketName": "Not_Valid!", "Unknown": 1})
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    (validate,) = [r for r in report["pluginReports"] if r["pluginName"] == "CloudFormation Validate"]
    assert sorted(v["ruleName"] for v in validate["violations"]) == ["F3002", "F3031"]
    # CDK's own plugin, not one the app registered: registered plugins are listed in the
    # template's analytics metadata, CDK's built-in one is not
    analytics = _analytics(json.loads((tmp_path / "Checked.template.json").read_text(encoding="utf-8")))
    assert "aws-cdk-lib.{" in analytics and "CloudFormationValidate" not in analytics


def test_no_plugin_when_validation_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")
    assert app_module.start_cloudformation_validation() is None
