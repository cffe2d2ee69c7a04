"""Fixtures of the API tests: the real application on uvicorn, 127.0.0.1, a random port, over the local engine.

One server per test module (starting the engine and its agents costs seconds). The project is
the repository's (workflows, lambdas, tools, agents) plus a slowly streaming test agent.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOKENS = {
    "tok-finance-3f9c2a71": "finance@example.com",
    "tok-cfo-8d41b0e2": "cfo@example.com",
    "tok-mallory-51c7e9aa": "mallory@example.com",
}
FINANCE, CFO, MALLORY = (f"Bearer {t}" for t in TOKENS)


@dataclass
class ApiServer:
    """A running API: its URL, the engine under it, and the local payments API refund-approval calls."""

    url: str
    engine: Any
    payments_url: str
    refunds: dict

    def client(self, authorization: str | None = FINANCE) -> httpx.Client:
        headers = {"Authorization": authorization} if authorization else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def _project(root: Path) -> Path:
    (root / "agents").mkdir()
    for agent in sorted((ROOT / "agents").iterdir()):
        if agent.is_dir():
            (root / "agents" / agent.name).symlink_to(agent)
    (root / "agents" / "slow_streamer").symlink_to(FIXTURES / "agents" / "slow_streamer")
    for name in ("lambdas", "tools", "workflows"):
        (root / name).symlink_to(ROOT / name)
    return root


def _payments() -> tuple[Any, str, dict]:
    spec = importlib.util.spec_from_file_location("payments_api_for_api_tests", ROOT / "examples" / "payments_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.serve(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", module.REFUNDS


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[ApiServer]:
    import uvicorn

    from stepgraph import load_project
    from stepgraph.api import TokenAuthenticator, create_app, local_backend
    from stepgraph.local import LocalEngine

    root = _project(tmp_path_factory.mktemp("api-project"))
    payments, payments_url, refunds = _payments()
    with LocalEngine(load_project(root), results_dir=root / "results") as engine:
        app = create_app(local_backend(engine, poll_seconds=0.05), TokenAuthenticator(TOKENS), heartbeat_seconds=1.0)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        try:
            yield ApiServer(f"http://127.0.0.1:{listener.getsockname()[1]}", engine, payments_url, refunds)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            payments.shutdown()


def wait_for_status(client: httpx.Client, execution_id: str, wanted: set[str], timeout: float = 60.0) -> dict:
    """Poll ``GET /api/executions/{id}`` until its status is one of ``wanted``; return the view."""
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/api/executions/{execution_id}").json()
        if view["status"] in wanted or time.monotonic() > deadline:
            assert view["status"] in wanted, view
            return view
        time.sleep(0.1)


@pytest.fixture(scope="module")
def support_input() -> dict:
    return json.loads((ROOT / "examples" / "customer-support.input.json").read_text(encoding="utf-8"))


@pytest.fixture()
def refund_input(api) -> dict:
    document = json.loads((ROOT / "examples" / "refund-approval.input.json").read_text(encoding="utf-8"))
    document["context"]["payments_url"] = api.payments_url
    return document
