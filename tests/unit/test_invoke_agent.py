"""Tests for lambdas/invoke_agent/handler.py against botocore's Stubber (real service model)."""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from lambda_support import FakeLambdaContext
from lambda_support import load_handler as load_lambda_handler
import uvicorn
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from urllib3.exceptions import ReadTimeoutError as URLLib3ReadTimeoutError

ROOT = Path(__file__).resolve().parents[2]
AGENT_PATH = ROOT / "agents" / "support_agent" / "main.py"
ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/support_agent-AbCd1234"
REGION = "us-east-1"


# ----------------------------------------------------------------------------- helpers


def load_module(name: str, path: Path) -> ModuleType:
    """Import a file by path (``lambdas`` and ``agents`` are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class TrickleStream:
    """A raw HTTP stream that hands out at most ``piece`` bytes per read, optionally slowly."""

    def __init__(self, data: bytes, piece: int, delay: float = 0.0, fail_after: int | None = None) -> None:
        self._data = data
        self._pos = 0
        self._piece = piece
        self._delay = delay
        self._fail_after = fail_after
        self.reads = 0
        self.closed = False

    def read(self, amt: int | None = None) -> bytes:
        if self._fail_after is not None and self.reads >= self._fail_after:
            raise URLLib3ReadTimeoutError(None, None, "Read timed out.")
        self.reads += 1
        if self._delay:
            time.sleep(self._delay)
        size = self._piece if amt is None else min(amt, self._piece)
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed = True


def agent_response(
    data: bytes, content_type: str, piece: int = 1 << 20, delay: float = 0.0, fail_after: int | None = None
) -> dict[str, Any]:
    """Build an InvokeAgentRuntime response whose body is streamed in ``piece``-byte reads."""
    raw = TrickleStream(data, piece, delay, fail_after)
    return {
        "contentType": content_type,
        "statusCode": 200,
        "runtimeSessionId": "x" * 40,
        "response": StreamingBody(raw, len(data)),
    }


def sse(*events: Any) -> bytes:
    """Encode events the way BedrockAgentCoreApp does (``data: <json>\\n\\n``)."""
    return b"".join(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode() for event in events)


def make_event(**overrides: Any) -> dict[str, Any]:
    event = {
        "agent_id": "support_agent",
        "agent_runtime_arn": ARN,
        "qualifier": "DEFAULT",
        "session_id": "chat-42",
        "payload": {"input": {"trigger": {"kind": "chat", "current_message": "where is my order?"}}},
        "timeout_seconds": 300,
        "step_id": "agent",
        "execution_name": "exec-1",
    }
    event.update(overrides)
    return event


class RaisingClient:
    """A client whose ``invoke_agent_runtime`` raises the given exception."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    def invoke_agent_runtime(self, **kwargs: Any) -> Any:
        self.calls += 1
        raise self.exc


@pytest.fixture()
def handler(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", raising=False)
    module = load_lambda_handler("invoke_agent")
    yield module
    module._clients.clear()


@pytest.fixture()
def stub(handler):
    """Stub the cached client the handler uses for ``us-east-1`` and a 300 s timeout; capture sent params."""
    client = handler.get_client(REGION, 300)
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-parameter-build.bedrock-agentcore.InvokeAgentRuntime", lambda params, **_: sent.append(dict(params))
    )
    with Stubber(client) as stubber:
        stubber.sent = sent
        yield stubber
        stubber.assert_no_pending_responses()


def expected_params(session_id: str = "chat-42", handler: ModuleType | None = None) -> dict[str, Any]:
    return {
        "agentRuntimeArn": ARN,
        "qualifier": "DEFAULT",
        "runtimeSessionId": handler.runtime_session_id(session_id) if handler else ANY,
        "contentType": "application/json",
        "payload": ANY,
    }


# ----------------------------------------------------------------------------- responses


def test_invoke_agent_json_response_is_decoded(handler, stub):
    answer = {"response": "Your order ORD-1002 shipped", "intent": "order_status", "escalate": False}
    stub.add_response(
        "invoke_agent_runtime",
        agent_response(json.dumps(answer).encode(), "application/json"),
        expected_params("chat-42", handler),
    )
    event = make_event()

    result = handler.invoke_agent(event)

    assert result == answer
    assert json.loads(stub.sent[0]["payload"]) == event["payload"]


def test_invoke_agent_json_with_charset_parameter_is_decoded(handler, stub):
    stub.add_response("invoke_agent_runtime", agent_response(b'{"ok": true}', "application/json; charset=utf-8"))

    assert handler.invoke_agent(make_event()) == {"ok": True}


def test_invoke_agent_event_stream_split_across_chunks_is_joined(handler, stub):
    body = sse(
        {"delta": "Your order "},
        {"delta": "ORD-1002 shipped "},
        "with Fed\u00e9x ",  # a JSON string event is a text chunk too; the accent is split across reads
        {"text": "today \U0001f69a."},
        {"final": {"intent": "order_status", "response_is_not_top_level": True}},
    )
    stub.add_response("invoke_agent_runtime", agent_response(body, "text/event-stream", piece=7))

    result = handler.invoke_agent(make_event())

    assert result["response"] == "Your order ORD-1002 shipped with Fed\u00e9x today \U0001f69a."
    assert result["events"] == [
        {"delta": "Your order "},
        {"delta": "ORD-1002 shipped "},
        "with Fed\u00e9x ",
        {"text": "today \U0001f69a."},
        {"final": {"intent": "order_status", "response_is_not_top_level": True}},
    ]


def test_decode_response_event_stream_keeps_non_json_and_skips_other_fields(handler):
    body = (
        b": keep-alive comment\r\n"
        b"event: message\r\n"
        b"id: 1\r\n"
        b"data:{\"response\": \"A\"}\r\n\r\n"
        b"data: plain text, not JSON\n\n"
        b"data: {\"delta\": 5}\n\n"
        b"data: {\"other\": \"ignored\"}\r"
        b"data: \"B\""
    )

    output, read = handler.decode_response("text/event-stream", TrickleStream(body, 3))

    assert output == {
        "response": "Aplain text, not JSONB",
        "events": [{"response": "A"}, "plain text, not JSON", {"delta": 5}, {"other": "ignored"}, "B"],
    }
    assert read == len(body)


def test_invoke_agent_other_content_type_returns_text(handler, stub):
    stub.add_response("invoke_agent_runtime", agent_response("h\u00e9llo".encode(), "text/plain"))

    assert handler.invoke_agent(make_event()) == {"response": "h\u00e9llo"}


@pytest.mark.parametrize("content_type", ["application/json", "text/event-stream"])
def test_invoke_agent_large_body_is_read_fully(handler, stub, content_type):
    text = "0123456789abcdef" * (5 * 1024 * 1024 // 16)  # 5 MiB
    body = json.dumps({"response": text}).encode()
    if content_type == "text/event-stream":
        body = sse({"delta": text[:1000]}, {"delta": text[1000:]})
    raw = agent_response(body, content_type, piece=10_000)
    stub.add_response("invoke_agent_runtime", raw)

    result = handler.invoke_agent(make_event())

    assert result["response"] == text
    assert raw["response"]._raw_stream.reads > len(body) // 10_000  # it really was read in many pieces
    assert raw["response"]._raw_stream.closed


def test_invoke_agent_slow_stream_is_read_to_the_end(handler, stub):
    body = sse(*[{"delta": f"{i} "} for i in range(20)])
    stub.add_response("invoke_agent_runtime", agent_response(body, "text/event-stream", piece=16, delay=0.005))

    result = handler.invoke_agent(make_event())

    assert result["response"] == "".join(f"{i} " for i in range(20))
    assert len(result["events"]) == 20


# ----------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 429), ("ServiceQuotaExceededException", 402), ("TooManyRequestsException", 429)],
)
def test_invoke_agent_throttling_raises_rate_limit(handler, stub, code, status):
    stub.add_client_error("invoke_agent_runtime", code, "Rate exceeded", http_status_code=status)

    with pytest.raises(handler.RATE_LIMIT) as info:
        handler.invoke_agent(make_event())

    assert type(info.value).__name__ == "RATE_LIMIT"
    assert info.value.aws_code == code
    assert "support_agent" in str(info.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("RuntimeClientError", 424),
        ("500", 500),
        ("InternalServerException", 500),
        ("ValidationException", 400),
        ("ResourceNotFoundException", 404),
        ("ConflictException", 409),
        ("RetryableConflictException", 409),
    ],
)
def test_invoke_agent_service_failure_raises_agent_error(handler, stub, code, status):
    stub.add_client_error("invoke_agent_runtime", code, "container exited with code 1", http_status_code=status)

    with pytest.raises(handler.AGENT_ERROR) as info:
        handler.invoke_agent(make_event())

    assert type(info.value).__name__ == "AGENT_ERROR"
    assert "'support_agent'" in str(info.value)
    assert "container exited with code 1" in str(info.value)
    assert info.value.aws_code == code
    assert info.value.step_id == "agent"


def test_invoke_agent_access_denied_hints_at_sub_resource(handler, stub):
    stub.add_client_error("invoke_agent_runtime", "AccessDeniedException", "not authorized", http_status_code=403)

    with pytest.raises(handler.AGENT_ERROR) as info:
        handler.invoke_agent(make_event())

    assert f"{ARN}/*" in str(info.value)
    assert "not authorized" in str(info.value)


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="https://bedrock-agentcore.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://bedrock-agentcore.us-east-1.amazonaws.com"),
    ],
)
def test_invoke_agent_botocore_timeout_raises_timeout(handler, monkeypatch, exc):
    client = RaisingClient(exc)
    monkeypatch.setattr(handler, "get_client", lambda region, read_timeout=900: client)

    with pytest.raises(handler.TIMEOUT) as info:
        handler.invoke_agent(make_event())

    assert type(info.value).__name__ == "TIMEOUT"
    assert client.calls == 1


def test_invoke_agent_read_timeout_while_streaming_raises_timeout(handler, stub):
    body = sse({"delta": "a"}, {"delta": "b"})
    stub.add_response("invoke_agent_runtime", agent_response(body, "text/event-stream", piece=4, fail_after=2))

    with pytest.raises(handler.TIMEOUT):
        handler.invoke_agent(make_event())


def test_invoke_agent_stream_past_deadline_raises_timeout(handler):
    client = handler.get_client(REGION, 1)
    body = sse(*[{"delta": "x"} for _ in range(50)])
    with Stubber(client) as stubber:
        stubber.add_response("invoke_agent_runtime", agent_response(body, "text/event-stream", piece=8, delay=0.02))
        started = time.monotonic()

        with pytest.raises(handler.TIMEOUT) as info:
            handler.invoke_agent(make_event(timeout_seconds=0.2))

    assert time.monotonic() - started < 1.0  # stopped at the deadline, not after the whole stream
    assert "support_agent" in str(info.value)


def test_invoke_agent_malformed_json_raises_agent_error(handler, stub):
    stub.add_response("invoke_agent_runtime", agent_response(b'{"response": "cut off', "application/json"))

    with pytest.raises(handler.AGENT_ERROR, match="malformed response"):
        handler.invoke_agent(make_event())


def test_invoke_agent_sdk_stream_error_event_raises_agent_error(handler, stub):
    body = sse(
        {"delta": "partial"},
        {"error": "boom", "error_type": "KeyError", "message": "An error occurred during streaming"},
    )
    stub.add_response("invoke_agent_runtime", agent_response(body, "text/event-stream"))

    with pytest.raises(handler.AGENT_ERROR, match="KeyError: boom"):
        handler.invoke_agent(make_event())


def test_invoke_agent_missing_fields_raise_validation_error_without_calling(handler, monkeypatch):
    client = RaisingClient(AssertionError("must not be called"))
    monkeypatch.setattr(handler, "get_client", lambda region, read_timeout=900: client)
    event = make_event(agent_runtime_arn="not-an-arn", timeout_seconds=-1)
    del event["session_id"], event["payload"]

    with pytest.raises(handler.VALIDATION_ERROR) as info:
        handler.invoke_agent(event)

    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert type(info.value).__name__ == "VALIDATION_ERROR"
    assert "4 problems" in message
    for fragment in ("'session_id'", "'payload'", "not-an-arn", "timeout_seconds"):
        assert fragment in message
    assert client.calls == 0


def test_invoke_agent_unserializable_payload_raises_validation_error(handler):
    with pytest.raises(handler.VALIDATION_ERROR, match="JSON-serializable"):
        handler.invoke_agent(make_event(payload={"when": object()}))


def test_lambda_handler_error_type_is_the_code(handler, stub):
    stub.add_client_error("invoke_agent_runtime", "ThrottlingException", "slow down", http_status_code=429)

    with pytest.raises(Exception) as info:
        handler.lambda_handler(make_event(), FakeLambdaContext())

    # Lambda reports type(exc).__name__ as errorType; Step Functions matches it in ErrorEquals.
    assert type(info.value).__name__ == "RATE_LIMIT"


def test_lambda_handler_returns_agent_output(handler, stub):
    stub.add_response("invoke_agent_runtime", agent_response(b'{"response": "hi"}', "application/json"))

    assert handler.lambda_handler(make_event(), FakeLambdaContext()) == {"response": "hi"}


def test_lambda_handler_caps_timeout_to_remaining_time(handler, monkeypatch):
    seen: list[tuple[str, int]] = []
    client = RaisingClient(ReadTimeoutError(endpoint_url="https://example"))

    def fake_get_client(region, read_timeout=900):
        seen.append((region, read_timeout))
        return client

    monkeypatch.setattr(handler, "get_client", fake_get_client)

    with pytest.raises(handler.TIMEOUT):
        handler.lambda_handler(make_event(timeout_seconds=300), FakeLambdaContext(remaining_ms=10_000))

    assert seen == [(REGION, 7)]  # 10 s left minus the 3 s safety margin


def test_lambda_handler_never_logs_payload(handler, stub, caplog):
    stub.add_response("invoke_agent_runtime", agent_response(b'{"response": "ok"}', "application/json"))
    # the service logger may have been set to WARNING by an earlier local run in this process
    caplog.set_level(logging.INFO, logger=handler.logger.name)

    handler.lambda_handler(make_event(payload={"secret": "card-4111111111111111"}), FakeLambdaContext())

    lines = [handler.logger.registered_formatter.format(record) for record in caplog.records]
    logs = "\n".join(lines)
    assert '"agent_id":"support_agent"' in logs.replace(" ", "")
    assert '"bytes_read":18' in logs.replace(" ", "")
    assert "4111111111111111" not in logs


# ----------------------------------------------------------------------------- client


def test_invoke_agent_uses_arn_region_over_environment(handler, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    seen: list[tuple[str, int]] = []
    real_get_client = handler.get_client

    def spy(region, read_timeout=900):
        seen.append((region, read_timeout))
        return real_get_client(region, read_timeout)

    monkeypatch.setattr(handler, "get_client", spy)
    client = real_get_client("eu-west-1", 120)
    event = make_event(agent_runtime_arn=ARN.replace("us-east-1", "eu-west-1"), timeout_seconds=120)

    with Stubber(client) as stubber:
        stubber.add_response("invoke_agent_runtime", agent_response(b"{}", "application/json"))
        handler.invoke_agent(event)

    assert seen == [("eu-west-1", 120)]


def test_get_client_is_cached_with_region_and_timeouts(handler):
    client = handler.get_client("eu-west-1", 120)

    assert handler.get_client("eu-west-1", 120) is client
    assert handler.get_client("eu-west-1", 60) is not client
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.read_timeout == 120
    assert client.meta.config.connect_timeout == 10
    assert client.meta.config.retries == {"total_max_attempts": 2, "mode": "standard"}


def test_get_client_honours_endpoint_env_var(handler, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "http://127.0.0.1:8999")

    client = handler.get_client(REGION, 60)

    assert client.meta.endpoint_url == "http://127.0.0.1:8999"
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "http://127.0.0.1:9000")
    assert handler.get_client(REGION, 60).meta.endpoint_url == "http://127.0.0.1:9000"  # not the stale cached one


# ----------------------------------------------------------------------------- session id


@pytest.mark.parametrize("session_id", ["a", "chat-42", "x" * 32, "user 7 / chat #3", "caf\u00e9-\u4f1a\u8bdd"])
def test_runtime_session_id_short_or_unsafe_is_lengthened_deterministically(handler, session_id):
    derived = handler.runtime_session_id(session_id)

    assert 33 <= len(derived) <= 256
    assert derived == handler.runtime_session_id(session_id)
    assert all(ch.isascii() and (ch.isalnum() or ch in "._:-") for ch in derived)
    assert derived != session_id


def test_runtime_session_id_valid_id_is_kept(handler):
    for session_id in ("x" * 33, "exec-0f8e2c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "y" * 256):
        assert handler.runtime_session_id(session_id) == session_id


def test_runtime_session_id_long_id_is_truncated_without_collisions(handler):
    first = "a" * 300 + "-one"
    second = "a" * 300 + "-two"

    assert len(handler.runtime_session_id(first)) == 256
    assert handler.runtime_session_id(first) != handler.runtime_session_id(second)
    assert handler.runtime_session_id(first) == handler.runtime_session_id(first)


def test_runtime_session_id_differs_between_executions(handler):
    ids = {handler.runtime_session_id(f"exec-{n}") for n in range(1000)}

    assert len(ids) == 1000


def test_runtime_session_id_empty_raises_validation_error(handler):
    with pytest.raises(handler.VALIDATION_ERROR):
        handler.runtime_session_id("")


def test_runtime_session_id_short_id_is_accepted_by_service_model(handler, stub):
    stub.add_response(
        "invoke_agent_runtime",
        agent_response(b"{}", "application/json"),
        expected_params("s1", handler),
    )

    handler.invoke_agent(make_event(session_id="s1"))  # Stubber validates min length 33 against the model


# ----------------------------------------------------------------------------- over HTTP


@pytest.fixture()
def local_runtime():
    """Serve the support agent behind AgentCore's data-plane path on loopback; yield (url, requests seen)."""
    agent = load_module("support_agent_for_invoke_test", AGENT_PATH)
    seen: list[dict[str, Any]] = []

    async def data_plane(scope, receive, send):
        # InvokeAgentRuntime is POST /runtimes/{arn}/invocations?qualifier=...; the container serves /invocations.
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/runtimes/") and path.endswith("/invocations"):
            seen.append({"path": scope["path"], "query": scope["query_string"], "headers": dict(scope["headers"])})
            scope = dict(scope, path="/invocations", raw_path=b"/invocations", query_string=b"")
        await agent.app(scope, receive, send)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(data_plane, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "local runtime did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_invoke_agent_against_local_runtime_over_http(handler, local_runtime, monkeypatch, stream):
    url, seen = local_runtime
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", url)
    payload = {"message": "where is my order?", "customer_id": "cust-1001", "stream": stream}

    result = handler.invoke_agent(make_event(payload=payload, timeout_seconds=30))

    assert "ORD-1002" in result["response"] and "771234567890" in result["response"]
    if stream:
        assert result["events"][-1]["final"]["response"] == result["response"]
        assert len(result["events"]) > 2
    else:
        assert result["intent"] == "order_status"
        assert result["order_ids"] == ["ORD-1002"]
    assert seen[0]["path"] == f"/runtimes/{ARN}/invocations"
    assert seen[0]["query"] == b"qualifier=DEFAULT"
    assert seen[0]["headers"][b"x-amzn-bedrock-agentcore-runtime-session-id"] == handler.runtime_session_id(
        "chat-42"
    ).encode()
