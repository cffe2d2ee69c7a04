"""What the local engine's emulator seams promise beyond running a workflow right
(stepgraph/local/emulator.py, engine.py, agentcore.py): expressions see their variables as the
deployed service would, a cached parse shares nothing between executions, the end of an
execution is seen without a poll, and agents named up front start with the engine."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from stepgraph.local import LocalEngine
from stepgraph.project import load_project

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "agents"


def _project(tmp_path: Path, workflows: list[dict], agents: dict[str, str] | None = None):
    (tmp_path / "workflows").mkdir()
    for document in workflows:
        (tmp_path / "workflows" / f"{document['name']}.json").write_text(json.dumps(document))
    (tmp_path / "agents").mkdir()
    for agent_id, source in (agents or {}).items():
        shutil.copytree(source, tmp_path / "agents" / agent_id)
    for name in ("lambdas", "tools"):
        (tmp_path / name).symlink_to(ROOT / name)
    return load_project(tmp_path)


ECHO = {"name": "echo", "steps": [
    {"step_id": "trigger", "step_type": "trigger", "next_steps": ["shape"]},
    {"step_id": "shape", "step_type": "data_transform",
     "parameters": {"output": {"text": "{{input.text}}", "n": "{{input.n}}"}}, "next_steps": ["again"]},
    {"step_id": "again", "step_type": "data_transform",
     "parameters": {"output": {"first": "{{steps.shape.output.text}}", "n": "{{steps.shape.output.n}}"}}},
]}


@pytest.fixture()
def echo_engine(tmp_path):
    with LocalEngine(_project(tmp_path, [ECHO]), results_dir=tmp_path / "results") as engine:
        yield engine


def _raw_execution(engine: LocalEngine, name: str, definition: dict, execution_input: dict) -> dict:
    """Run hand-written ASL on the engine's emulator; return DescribeExecution once it ended."""
    sfn = engine.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=engine.role_arn)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=f"{name}-run",
                              input=json.dumps(execution_input))["executionArn"]
    for _ in engine.events(arn):
        pass
    return sfn.describe_execution(executionArn=arn)


def test_strings_with_quotes_and_line_breaks_reach_later_steps_unchanged(echo_engine):
    text = 'say "hi"\nthen \\ leave — ☃'
    record = echo_engine.run("echo", {"text": text, "n": 3}).record
    assert record["status"] == "completed"
    assert record["result"] == {"first": text, "n": 3}


def test_runs_of_one_state_machine_share_nothing(echo_engine):
    # GIVEN one state machine (parsed once, its parse cached) run from many threads at once
    results: dict[int, dict] = {}

    def run(i: int) -> None:
        results[i] = echo_engine.run("echo", {"text": f"t{i}", "n": i}).record["result"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # THEN each run saw its own input only
    assert results == {i: {"first": f"t{i}", "n": i} for i in range(6)}


def test_context_dates_null_and_undefined_behave_as_in_step_functions(echo_engine):
    definition = {"QueryLanguage": "JSONata", "StartAt": "dates", "States": {
        "dates": {"Type": "Pass", "Assign": {"when": "{% $states.context.Execution.StartTime %}"},
                  "Output": {"start": "{% $when %}", "nothing": "{% null %}", "quoted": "{% $states.input.q %}"},
                  "Next": "undefined"},
        "undefined": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": True},
    }}
    described = _raw_execution(echo_engine, "raw-dates", definition, {"q": 'a "b"'})
    # an expression that returns nothing fails the state, with the service's error and cause
    assert described["status"] == "FAILED"
    assert described["error"] == "States.QueryEvaluationError"
    assert "returned nothing (undefined)" in described["cause"]
    sfn = echo_engine.client("stepfunctions")
    history = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    exited = next(e for e in history if e["type"] == "PassStateExited")
    output = json.loads(exited["stateExitedEventDetails"]["output"])
    # a date of the context object reads as ISO 8601 text; JSONata null is null, not "nothing"
    assert output["nothing"] is None and output["quoted"] == 'a "b"'
    assert isinstance(output["start"], str)
    assert abs(datetime.fromisoformat(output["start"]) - described["startDate"]) < timedelta(milliseconds=1)


def test_the_end_of_an_execution_is_seen_without_waiting_for_a_poll(echo_engine):
    arn = echo_engine.start_execution("echo", {"text": "x", "n": 1})
    started = time.monotonic()
    events = list(echo_engine.events(arn, poll_seconds=60))
    # with a 60 s poll, only a wake-up at the end can return this soon
    assert time.monotonic() - started < 20
    assert events and events[-1].kind == "status"


MORTAL_FLOW = {"name": "mortal-flow", "steps": [
    {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
    {"step_id": "agent", "step_type": "agent_execution",
     "parameters": {"agent_id": "mortal", "timeout_seconds": 10, "payload": {"mode": "ok"}}},
]}


def test_agents_of_the_workflow_to_run_start_with_the_engine(tmp_path):
    project = _project(tmp_path, [MORTAL_FLOW, ECHO], {"mortal": FIXTURES / "mortal"})
    with LocalEngine(project, results_dir=tmp_path / "results", start_agents_for=["mortal-flow"]) as engine:
        # THEN the agent's process runs before anything invoked it
        (process,) = engine.gateway.processes.values()
        assert process.alive
        record = engine.run("mortal-flow", {}).record
        assert record["status"] == "completed"
        assert record["result"]["pid"] == process.process.pid
    assert not process.alive  # stopped with the engine
    with LocalEngine(project, results_dir=tmp_path / "results", start_agents_for=["echo"]) as engine:
        assert engine.gateway.processes == {}  # a workflow without agents starts none


def test_an_agent_that_cannot_start_fails_its_first_invocation_with_agent_error(tmp_path):
    broken = tmp_path / "broken-src"
    broken.mkdir()
    (broken / "main.py").write_text("raise SystemExit('this agent cannot start')\n")
    (broken / "Dockerfile").write_text((FIXTURES / "mortal" / "Dockerfile").read_text())
    flow = json.loads(json.dumps(MORTAL_FLOW).replace('"mortal"', '"broken"').replace("mortal-flow", "broken-flow"))
    (tmp_path / "p").mkdir()
    project = _project(tmp_path / "p", [flow], {"broken": broken})
    with LocalEngine(project, results_dir=tmp_path / "results", start_agents_for=["broken-flow"]) as engine:
        record = engine.run("broken-flow", {}).record
    assert record["status"] == "failed"
    assert record["error"]["code"] == "AGENT_ERROR"
    assert record["error"]["step"] == "agent"


def test_lambda_tasks_answer_as_the_lambda_integration_does(echo_engine):
    # GIVEN in-process handlers behind three function names, one of them answering too much
    echo_engine.registry.register("echo-fn", lambda event, context: {"got": event})
    echo_engine.registry.register("huge-fn", lambda event, context: "x" * 7_000_000)

    def raising(event, context):
        raise ValueError("nope")

    echo_engine.registry.register("boom-fn", raising)
    catch = [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "caught"}]
    definition = {"QueryLanguage": "JSONata", "StartAt": "echo", "States": {
        "echo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Arguments": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:echo-fn",
                               "Payload": {"x": 1}}, "Output": "{% $states.result %}", "Next": "boom"},
        "boom": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Arguments": {"FunctionName": "boom-fn", "Payload": {}}, "Catch": catch, "Next": "huge"},
        "caught": {"Type": "Pass", "Assign": {"boom": "{% $states.input.Error %}"}, "Next": "huge"},
        "huge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Arguments": {"FunctionName": "huge-fn", "Payload": {}}, "End": True},
    }}
    described = _raw_execution(echo_engine, "raw-lambda", definition, {})
    history = echo_engine.client("stepfunctions").get_execution_history(executionArn=described["executionArn"])["events"]
    succeeded = [json.loads(e["taskSucceededEventDetails"]["output"]) for e in history if e["type"] == "TaskSucceeded"]
    failed = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    # THEN the answer has Lambda's shape, a raised exception is a function error named by its
    # class, and an answer over 6 MB fails as Lambda's does
    assert succeeded == [{"StatusCode": 200, "Payload": {"got": {"x": 1}}}]
    assert failed == ["ValueError", "Function.ResponseSizeTooLarge"]
    assert described["status"] == "FAILED" and described["error"] == "Function.ResponseSizeTooLarge"
