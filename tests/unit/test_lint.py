"""Warnings about valid workflows (SPEC §8): printed, never changing an exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stepgraph import parse_workflow
from stepgraph.lint import WARNING, workflow_warnings

ROOT = Path(__file__).resolve().parents[2]


def _workflow(*steps: dict):
    return parse_workflow({"name": "w", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": [steps[0]["step_id"]]}, *steps]}).workflow


def test_single_brace_placeholder_is_a_warning_naming_the_field() -> None:
    warnings = workflow_warnings(_workflow(
        {"step_id": "reply", "step_type": "data_transform",
         "parameters": {"output": {"text": "Hello {current_message}, order {{input.order}}"}}}))
    assert [(w.code, w.step_id, w.path) for w in warnings] == [(WARNING, "reply", "steps[1].parameters.output.text")]
    assert "'{current_message}' is sent literally" in warnings[0].message
    assert "{{input.current_message}}" in warnings[0].message


def test_approval_decision_compared_with_denied_is_a_warning() -> None:
    warnings = workflow_warnings(_workflow(
        {"step_id": "ok", "step_type": "human_approval", "parameters": {"approvers": ["a@example.com"]}, "next_steps": ["check"]},
        {"step_id": "check", "step_type": "condition", "next_steps": ["done"],
         "parameters": {"condition": "{{steps.ok.output.decision}} == 'denied'"}},
        {"step_id": "done", "step_type": "data_transform", "parameters": {"output": {"x": 1}}}))
    assert [(w.step_id, w.path) for w in warnings] == [("check", "steps[2].parameters.condition")]
    assert "is always false" in warnings[0].message and "'approved', 'rejected'" in warnings[0].message


def test_condition_on_a_field_a_transform_never_outputs_is_a_warning() -> None:
    warnings = workflow_warnings(_workflow(
        {"step_id": "shape", "step_type": "data_transform", "parameters": {"output": {"total": 3}}, "next_steps": ["big"]},
        {"step_id": "big", "step_type": "condition", "next_steps": ["done"],
         "parameters": {"condition": "{{steps.shape.output.amount}} > 2"}},
        {"step_id": "done", "step_type": "data_transform", "parameters": {"output": {"x": 1}}}))
    assert len(warnings) == 1 and "'steps.shape.output.amount' is always null" in warnings[0].message


def test_validate_prints_warnings_and_still_exits_0(tmp_path) -> None:
    document = {"name": "warned", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["reply"]},
        {"step_id": "reply", "step_type": "data_transform", "parameters": {"output": {"text": "Hi {name}"}}}]}
    path = tmp_path / "warned.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "stepgraph.cli", "validate", str(path), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["valid"] is True
    assert [w["code"] for w in report["files"][0]["warnings"]] == ["WARNING"]


def test_repository_workflows_have_no_warnings() -> None:
    from stepgraph import load_project

    project = load_project(ROOT)
    assert {name: [str(w) for w in workflow_warnings(wf)] for name, wf in project.workflows.items()
            if workflow_warnings(wf)} == {}
