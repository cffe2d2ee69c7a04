"""An api_call header reading ``{{secrets.<name>}}`` on the local engine: sent, never recorded."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.slow

SECRET = "sk-live-4f1c9a7e"


@pytest.fixture()
def payments_server():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            seen.append({"authorization": self.headers.get("Authorization"), "body": json.loads(self.rfile.read(length) or b"null")})
            body = json.dumps({"refund_id": "rf-1"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()


def test_secret_header_reaches_the_api_and_nothing_recorded_holds_it(make_engine, payments_server) -> None:
    port, seen = payments_server
    document = {"name": "refund-with-key", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["refund"]},
        {"step_id": "refund", "step_type": "api_call", "parameters": {
            "url": f"http://localhost:{port}/refunds", "method": "POST", "allowed_hosts": ["localhost"],
            "headers": {"Authorization": "Bearer {{secrets.payments_api_key}}"},
            "body": {"order": "{{input.order_id}}"}}},
    ]}
    engine = make_engine(document, secrets={"payments_api_key": SECRET})
    result = engine.run("refund-with-key", {"order_id": "ORD-1"})
    assert result.status == "completed", result.record
    assert seen == [{"authorization": f"Bearer {SECRET}", "body": {"order": "ORD-1"}}]
    assert result.record["result"]["body"] == {"refund_id": "rf-1"}
    history = engine.client("stepfunctions").get_execution_history(executionArn=result.execution_arn, maxResults=1000)
    recorded = json.dumps(history["events"], default=str) + json.dumps(result.record) + result.record_path.read_text()
    assert SECRET not in recorded
    assert "payments_api_key" in recorded  # the name travels, the value does not


def test_missing_secret_fails_the_step_with_tool_error(make_engine, payments_server) -> None:
    port, seen = payments_server
    document = {"name": "refund-no-key", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["refund"]},
        {"step_id": "refund", "step_type": "api_call", "parameters": {
            "url": f"http://localhost:{port}/refunds", "method": "POST", "allowed_hosts": ["localhost"],
            "headers": {"Authorization": "Bearer {{secrets.absent_key}}"}}},
    ]}
    result = make_engine(document, secrets={}).run("refund-no-key", {})
    assert result.status == "failed"
    assert result.record["error"]["code"] == "TOOL_ERROR" and "absent_key" in result.record["error"]["message"]
    assert seen == []
