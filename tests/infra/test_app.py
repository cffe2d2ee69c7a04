"""``app.py``: CloudFormation validation started on a second thread, and what that thread may overlap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def _validation_report(outdir: Path, plugin: cdk.CloudFormationValidatePlugin | None) -> str:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Checked")
    # two findings of CDK's CloudFormation validation (reported as warnings): an unknown
    # property and a bucket name outside S3's pattern
    cdk.CfnResource(stack, "Bucket", type="AWS::S3::Bucket", properties={"BucketName": "Not_Valid!", "Unknown": 1})
    if plugin is not None:
        cdk.Validations.of(app).add_plugins(plugin)
    app.synth()
    return (outdir / "validation-report.json").read_text(encoding="utf-8")


def test_started_plugin_reports_what_cdks_own_reports(tmp_path: Path) -> None:
    future = app_module.start_cloudformation_validation()
    assert future is not None
    plugin = future.result()  # before any other jsii call: the kernel serves one thread at a time
    default = _validation_report(tmp_path / "default", None)
    started = _validation_report(tmp_path / "started", plugin)
    assert "F3002" in default and "F3031" in default
    assert started == default  # one CloudFormation Validate report (CDK adds none of its own), same findings


def test_no_plugin_when_validation_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")
    assert app_module.start_cloudformation_validation() is None
