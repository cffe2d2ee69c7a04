"""The ``stepgraph`` console script as a person runs it: exit codes, stdout and stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STEPGRAPH = shutil.which("stepgraph", path=str(Path(sys.executable).parent)) or "stepgraph"


def stepgraph(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STEPGRAPH, *args], cwd=cwd, capture_output=True, text=True, timeout=300, input=stdin)


BROKEN = {"name": "broken", "steps": [
    {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
    {"step_id": "agent", "step_type": "agent_execution", "parameters": {"agent_id": "nobody"}, "next_steps": ["ghost"]},
    {"step_id": "check", "step_type": "condition", "parameters": {"condition": "{{input.a == 1"}, "next_steps": ["agent"]},
]}


def test_validate_broken_file_lists_every_problem_with_step_ids_and_exits_1(tmp_path):
    (tmp_path / "workflows").mkdir()
    (tmp_path / "agents").symlink_to(ROOT / "agents")
    path = tmp_path / "workflows" / "broken.json"
    path.write_text(json.dumps(BROKEN))

    text = stepgraph("validate", str(path), cwd=tmp_path)
    as_json = stepgraph("validate", str(path), "--json", cwd=tmp_path)

    assert text.returncode == 1 and as_json.returncode == 1
    report = json.loads(as_json.stdout)
    problems = {(i["step"], i["path"].split(".")[-1]) for i in report["files"][0]["issues"]}
    assert ("agent", "agent_id") in problems          # unknown agent
    assert ("agent", "next_steps") in problems        # unknown step 'ghost'
    assert ("check", "condition") in problems         # malformed expression
    assert ("check", "steps[2]") in problems          # not reachable from the trigger
    for step in ("agent", "check"):
        assert f"step '{step}'" in text.stdout
    assert "nobody" in text.stdout and "ghost" in text.stdout


def test_validate_every_repository_workflow_exits_0():
    result = stepgraph("validate", *sorted(str(p) for p in (ROOT / "workflows").glob("*.json")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compile_prints_the_state_machine_with_placeholders():
    result = stepgraph("compile", "workflows/customer-support.json")
    assert result.returncode == 0
    definition = json.loads(result.stdout)
    assert definition["QueryLanguage"] == "JSONata"
    assert definition["States"]["agent"]["Arguments"]["FunctionName"] == "${InvokeAgentFunctionArn}"


def test_run_json_keeps_stdout_to_the_result_record_and_streams_events_on_stderr():
    result = stepgraph("run", "workflows/customer-support.json", "--input", "examples/customer-support.input.json", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)  # stdout is exactly one JSON document
    assert record["status"] == "completed" and record["workflowName"] == "customer-support"
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    started = [e["step"] for e in events if e["event"] == "step_start"]
    assert started[:3] == ["trigger", "agent", "needs_person"]
    chained = [e for e in events if e["event"] == "chained_result"]
    assert chained and chained[0]["record"]["workflowName"] == "support-followup"


def test_run_failed_workflow_exits_1_with_its_record():
    result = stepgraph("run", "workflows/getting-started.json", "--input", "examples/getting-started.input.json", "--json")
    assert result.returncode == 1
    record = json.loads(result.stdout)
    assert record["status"] == "failed" and record["error"]["code"] == "AGENT_ERROR"


def test_run_approval_without_a_terminal_or_flag_stops_with_a_hint(tmp_path):
    (tmp_path / "workflows").mkdir()
    (tmp_path / "lambdas").symlink_to(ROOT / "lambdas")
    doc = {"name": "gate", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["ask"]},
        {"step_id": "ask", "step_type": "human_approval", "parameters": {"approvers": ["ops@example.com"]}},
    ]}
    (tmp_path / "workflows" / "gate.json").write_text(json.dumps(doc))
    waiting = stepgraph("run", "workflows/gate.json", cwd=tmp_path, stdin="")
    approved = stepgraph("run", "workflows/gate.json", "--approve", "--json", cwd=tmp_path)
    rejected = stepgraph("run", "workflows/gate.json", "--reject", "--json", cwd=tmp_path)
    assert waiting.returncode == 1 and "--approve or --reject" in waiting.stderr
    assert approved.returncode == 0 and json.loads(approved.stdout)["result"]["decision"] == "approved"
    assert rejected.returncode == 1 and json.loads(rejected.stdout)["error"]["code"] == "APPROVAL_REJECTED"


def _greeting(name: str, text: str) -> dict:
    return {"name": name, "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["say"]},
        {"step_id": "say", "step_type": "data_transform", "parameters": {"output": {"text": text}}}]}


def test_run_any_file_outside_workflows_and_a_same_named_file_runs_itself(tmp_path):
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    (anywhere / "my-flow.json").write_text(json.dumps(_greeting("my-flow", "from anywhere")), encoding="utf-8")
    done = stepgraph("run", str(anywhere / "my-flow.json"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == {"text": "from anywhere"}
    # a file named like a project workflow is what runs, and a line says so
    (anywhere / "support.json").write_text(json.dumps(_greeting("customer-support", "not the project's")), encoding="utf-8")
    done = stepgraph("run", str(anywhere / "support.json"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == {"text": "not the project's"}
    assert "instead of the project's" in done.stderr and "workflows/customer-support.json" in done.stderr


def test_an_invalid_file_in_workflows_does_not_stop_a_valid_run(tmp_path):
    project = tmp_path / "project"
    (project / "workflows").mkdir(parents=True)
    (project / "workflows" / "good.json").write_text(json.dumps(_greeting("good", "fine")), encoding="utf-8")
    (project / "workflows" / "broken.json").write_text(json.dumps({"name": "broken", "steps": [{"step_id": "x"}]}), encoding="utf-8")
    for name in ("lambdas", "agents", "tools"):
        (project / name).symlink_to(ROOT / name)
    done = stepgraph("run", "workflows/good.json", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == {"text": "fine"}
    done = stepgraph("run", "workflows/broken.json", cwd=project)
    assert done.returncode == 1 and "unknown step_type" in done.stderr


def test_messages_keep_their_brackets(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad name!", "steps": [{"step_id": "t", "step_type": "trigger"}]}), encoding="utf-8")
    done = stepgraph("validate", str(path))
    assert done.returncode == 1
    assert "[A-Za-z0-9_-]" in done.stdout  # user text and patterns are never read as Rich markup
