"""Async agent steps (issue 14): compilation, the task-token envelope, the agent-side helper, identity and trace."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from lambda_support import FakeLambdaContext
from lambda_support import load_handler as load_lambda_handler

from stepgraph import compile_workflow, parse_workflow
from stepgraph_runtime import async_agent, trace
from stepgraph_runtime.errors import AGENT_ERROR, RATE_LIMIT, VALIDATION_ERROR

ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/support_agent-AbCd1234"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:stepgraph-research:run-1"
REGION = "us-east-1"


def agent_workflow(**parameters: Any) -> dict[str, Any]:
    return {"name": "research", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["agent"]},
        {"step_id": "agent", "step_type": "agent_execution", "parameters": {"agent_id": "support_agent", **parameters}},
    ]}


def compiled_state(**parameters: Any) -> dict[str, Any]:
    return compile_workflow(parse_workflow(agent_workflow(**parameters)).workflow).definition["States"]["agent"]


# ----------------------------------------------------------------------------- compilation


def test_compile_async_step_waits_for_the_task_token_with_timeout_and_heartbeat():
    state = compiled_state(mode="async", timeout_seconds=7200, heartbeat_seconds=120)

    assert state["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert state["TimeoutSeconds"] == 7200
    assert state["HeartbeatSeconds"] == 120
    payload = state["Arguments"]["Payload"]
    assert payload["mode"] == "async"
    assert payload["task_token"] == "{% $states.context.Task.Token %}"
    assert payload["heartbeat_seconds"] == 120
    assert "$states.result" in state["Output"] and "$states.result.Payload" not in state["Output"]


def test_compile_agent_step_over_900_seconds_is_async_without_saying_so():
    state = compiled_state(timeout_seconds=28_800)

    assert state["Resource"].endswith(".waitForTaskToken")
    assert (state["TimeoutSeconds"], state["HeartbeatSeconds"]) == (28_800, 300)


def test_compile_agent_step_by_default_is_one_synchronous_invocation():
    state = compiled_state(timeout_seconds=300)

    assert state["Resource"] == "arn:aws:states:::lambda:invoke"
    assert "HeartbeatSeconds" not in state
    assert "task_token" not in state["Arguments"]["Payload"]


def test_compile_agent_step_sends_user_id_and_execution_arn():
    payload = compiled_state()["Arguments"]["Payload"]

    # the execution input lives in the $input variable (docs/design.md, "The state document")
    assert "$input.user_id" in payload["user_id"]
    assert payload["execution_arn"] == "{% $states.context.Execution.Id %}"


# ----------------------------------------------------------------------------- trace context


def test_traceparent_from_xray_header_keeps_the_trace_id():
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    assert trace.traceparent_from_xray(header) == "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    assert trace.traceparent_from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0").endswith("-00")


def test_traceparent_without_xray_is_derived_from_the_execution_arn(monkeypatch):
    monkeypatch.delenv(trace.XRAY_TRACE_ENV, raising=False)

    first = trace.execution_traceparent(EXECUTION_ARN)

    assert first == trace.execution_traceparent(EXECUTION_ARN)
    assert first != trace.execution_traceparent(EXECUTION_ARN + "2")
    assert trace.trace_id_of(first) is not None


# ----------------------------------------------------------------------------- the invoker (Stubber)


@pytest.fixture()
def handler(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"):
        monkeypatch.delenv(name, raising=False)
    module = load_lambda_handler("invoke_agent")
    yield module
    module._clients.clear()


class Body:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, amt: int | None = None) -> bytes:
        chunk = self.data[self.pos:self.pos + (amt or len(self.data))]
        self.pos += len(chunk)
        return chunk

    def close(self) -> None:
        pass


def answer(value: Any) -> dict[str, Any]:
    data = json.dumps(value).encode()
    return {"contentType": "application/json", "statusCode": 200, "runtimeSessionId": "x" * 40,
            "response": StreamingBody(Body(data), len(data))}


def event(**overrides: Any) -> dict[str, Any]:
    base = {"agent_id": "support_agent", "agent_runtime_arn": ARN, "session_id": "chat-42", "timeout_seconds": 300,
            "payload": {"input": {"q": "hi"}}, "step_id": "agent", "workflow_name": "research",
            "execution_name": "run-1", "execution_arn": EXECUTION_ARN, "user_id": "user-7"}
    base.update(overrides)
    return base


def test_invoke_sends_runtime_user_id_and_the_xray_trace_as_traceparent(handler, monkeypatch):
    monkeypatch.setenv(trace.XRAY_TRACE_ENV, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    client = handler.get_client(REGION, 300)
    with Stubber(client) as stub:
        stub.add_response("invoke_agent_runtime", answer({"ok": True}), {
            "agentRuntimeArn": ARN, "qualifier": "DEFAULT", "runtimeSessionId": ANY, "contentType": "application/json",
            "payload": ANY, "runtimeUserId": "user-7",
            "traceParent": "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"})
        assert handler.invoke_agent(event()) == {"ok": True}
        stub.assert_no_pending_responses()


def test_invoke_without_xray_sends_the_execution_traceparent_and_no_user_id_when_absent(handler, monkeypatch):
    monkeypatch.delenv(trace.XRAY_TRACE_ENV, raising=False)
    client = handler.get_client(REGION, 300)
    with Stubber(client) as stub:
        stub.add_response("invoke_agent_runtime", answer({"ok": True}), {
            "agentRuntimeArn": ARN, "qualifier": "DEFAULT", "runtimeSessionId": ANY, "contentType": "application/json",
            "payload": ANY, "traceParent": trace.traceparent_for_execution(EXECUTION_ARN)})
        handler.invoke_agent(event(user_id=None))
        stub.assert_no_pending_responses()


def test_async_invoke_sends_the_token_in_the_payload_and_returns_the_acceptance(handler):
    client = handler.get_client(REGION, 300)
    sent: list[dict[str, Any]] = []
    client.meta.events.register("before-parameter-build.bedrock-agentcore.InvokeAgentRuntime",
                                lambda params, **_: sent.append(dict(params)))
    with Stubber(client) as stub:
        stub.add_response("invoke_agent_runtime", answer(async_agent.acceptance(17)))
        result = handler.lambda_handler(event(mode="async", task_token="tok-1", heartbeat_seconds=60), FakeLambdaContext())

    assert result == {"accepted": True, "task_id": "17"}
    body = json.loads(sent[0]["payload"])
    assert body["input"] == {"q": "hi"}
    assert body["stepgraph"] == {"task_token": "tok-1", "heartbeat_seconds": 60, "workflow_name": "research",
                                 "execution_name": "run-1", "step_id": "agent"}


def test_async_invoke_of_an_agent_that_does_not_accept_fails_at_once_with_agent_error(handler):
    client = handler.get_client(REGION, 300)
    with Stubber(client) as stub:
        stub.add_response("invoke_agent_runtime", answer({"response": "done synchronously"}))
        with pytest.raises(AGENT_ERROR, match="did not accept the async step"):
            handler.invoke_agent(event(mode="async", task_token="tok-1", heartbeat_seconds=60))


def test_async_invoke_without_token_is_a_validation_error(handler):
    with pytest.raises(VALIDATION_ERROR, match="task_token"):
        handler.invoke_agent(event(mode="async", heartbeat_seconds=60))


# ----------------------------------------------------------------------------- the agent-side helper


class FakeApp:
    """The two BedrockAgentCoreApp methods the helper uses, recording the busy period."""

    def __init__(self) -> None:
        self.active: dict[int, str] = {}
        self.completed: list[int] = []
        self.done = threading.Event()

    def add_async_task(self, name: str, metadata: Any = None) -> int:
        self.active[len(self.active) + 1] = name
        return len(self.active)

    def complete_async_task(self, task_id: int) -> bool:
        self.active.pop(task_id)
        self.completed.append(task_id)
        self.done.set()
        return True


class FakeStepFunctions:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def send_task_heartbeat(self, **kw: Any) -> None:
        self.calls.append(("heartbeat", kw))

    def send_task_success(self, **kw: Any) -> None:
        self.calls.append(("success", kw))

    def send_task_failure(self, **kw: Any) -> None:
        self.calls.append(("failure", kw))


def request(**extra: Any) -> dict[str, Any]:
    return {"topic": "x", "stepgraph": {"task_token": "tok", "heartbeat_seconds": 1, "workflow_name": "w",
                                        "execution_name": "e", "step_id": "agent"}, **extra}


def serve(work):
    app, sfn = FakeApp(), FakeStepFunctions()
    entry = async_agent.async_step(app, client_factory=lambda: sfn)(work)
    return app, sfn, entry


def test_async_step_answers_at_once_stays_busy_heartbeats_and_sends_the_result():
    release = threading.Event()

    def work(payload):
        assert "stepgraph" not in payload
        release.wait(5)
        return {"summary": payload["topic"] * 2}

    app, sfn, entry = serve(work)
    started = time.monotonic()
    assert entry(request()) == {"stepgraph": {"accepted": True, "task_id": "1"}}
    assert time.monotonic() - started < 0.5
    time.sleep(0.8)
    assert app.active == {1: "work"}  # /ping says HealthyBusy meanwhile
    release.set()
    assert app.done.wait(5)
    kinds = [k for k, _ in sfn.calls]
    assert kinds[0] == "heartbeat" and kinds[-1] == "success" and kinds.count("success") == 1
    assert json.loads(sfn.calls[-1][1]["output"]) == {"summary": "xx"}


@pytest.mark.parametrize("raised, code", [(RuntimeError("boom"), "AGENT_ERROR"), (RATE_LIMIT("throttled"), "RATE_LIMIT"),
                                          (TimeoutError("site too slow"), "TIMEOUT")])
def test_async_step_that_raises_sends_task_failure_with_its_code(raised, code):
    def work(payload):
        raise raised

    app, sfn, entry = serve(work)
    entry(request())
    assert app.done.wait(5)
    kind, sent = sfn.calls[-1]
    assert (kind, sent["error"]) == ("failure", code)
    assert str(raised) in sent["cause"]


def test_async_step_without_a_token_runs_synchronously():
    app, sfn, entry = serve(lambda payload: {"echo": payload["topic"]})

    assert entry({"topic": "x"}) == {"echo": "x"}
    assert sfn.calls == [] and app.completed == []


def test_async_step_streaming_agent_result_has_the_decoded_stream_shape():
    def work(payload):
        yield {"delta": "a"}
        yield {"delta": "b"}

    app, sfn, entry = serve(work)
    entry(request())
    assert app.done.wait(5)
    assert json.loads(sfn.calls[-1][1]["output"]) == {"response": "ab", "events": [{"delta": "a"}, {"delta": "b"}]}


# ----------------------------------------------------------------------------- sessions stopped (Stubber)

SECOND_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/price_compare-EfGh5678"


@pytest.fixture()
def backstop(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", raising=False)
    monkeypatch.setenv("STATE_MACHINE_NAME_PREFIX", "stepgraph-")
    monkeypatch.setenv("STEPGRAPH_SESSION_RUNTIMES", json.dumps({"research": [[ARN, "DEFAULT"], [SECOND_ARN, "DEFAULT"]]}))
    from stepgraph_runtime import agentcore

    agentcore.clear_clients()
    yield load_lambda_handler("record_backstop")
    agentcore.clear_clients()


def ended(status: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    return {"executionArn": EXECUTION_ARN, "name": "run-1", "status": status, "input": json.dumps(execution_input),
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:stepgraph-research"}


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_ended_execution_stops_its_session_on_every_runtime_it_used(backstop, status):
    from stepgraph_runtime import agentcore
    from stepgraph_runtime.sessions import runtime_session_id

    client = agentcore.get_client(REGION, 30)
    session = runtime_session_id("chat-42")
    with Stubber(client) as stub:
        for arn in (ARN, SECOND_ARN):
            stub.add_response("stop_runtime_session", {"runtimeSessionId": session, "statusCode": 200},
                              {"agentRuntimeArn": arn, "runtimeSessionId": session, "qualifier": "DEFAULT"})
        stopped = backstop.stop_sessions(ended(status, {"session_id": "chat-42"}))
        stub.assert_no_pending_responses()

    assert stopped == [(ARN, session), (SECOND_ARN, session)]


def test_session_already_gone_is_skipped_and_a_nested_execution_leaves_sessions_to_its_parent(backstop):
    from stepgraph_runtime import agentcore

    client = agentcore.get_client(REGION, 30)
    with Stubber(client) as stub:
        stub.add_client_error("stop_runtime_session", "ResourceNotFoundException", "no such session")
        stub.add_response("stop_runtime_session", {"runtimeSessionId": "x" * 40, "statusCode": 200})
        assert len(backstop.stop_sessions(ended("SUCCEEDED", {}))) == 1
        stub.assert_no_pending_responses()
        nested = {"sessionId": "chat-42", "parent": {"executionArn": EXECUTION_ARN + "-parent"}}
        assert backstop.stop_sessions(ended("SUCCEEDED", nested)) == []
