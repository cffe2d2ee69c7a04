"""The real API application on uvicorn, 127.0.0.1, a random port, over the local engine (for tests/api and tests/browser).

The project is the repository's (workflows, lambdas, tools, agents) plus a slowly streaming test
agent; the local payments API that refund-approval calls runs next to it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "api" / "fixtures"


@dataclass
class ApiServer:
    """A running API: its URL, the engine under it, and the local payments API refund-approval calls."""

    url: str
    engine: Any
    payments_url: str
    refunds: dict
    default_authorization: str | None = None

    def client(self, authorization: str | None = "default") -> httpx.Client:
        """An HTTP client of the API; ``authorization=None`` sends no Authorization header."""
        if authorization == "default":
            authorization = self.default_authorization
        headers = {"Authorization": authorization} if authorization else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def _project(root: Path) -> Path:
    (root / "agents").mkdir()
    for agent in sorted((ROOT / "agents").iterdir()):
        if agent.is_dir():
            (root / "agents" / agent.name).symlink_to(agent)
    (root / "agents" / "slow_streamer").symlink_to(FIXTURES / "agents" / "slow_streamer")
    for name in ("lambdas", "tools", "workflows", "examples"):
        (root / name).symlink_to(ROOT / name)
    return root


def _payments() -> tuple[Any, str, dict]:
    spec = importlib.util.spec_from_file_location("payments_api_for_api_tests", ROOT / "examples" / "payments_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.serve(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", module.REFUNDS


@contextlib.contextmanager
def running_api(root: Path, tokens: Mapping[str, str], *, heartbeat_seconds: float = 1.0) -> Iterator[ApiServer]:
    """Start the API over a fresh local engine for the project made in ``root``; stop it afterwards."""
    import uvicorn

    from stepgraph import load_project
    from stepgraph.api import TokenAuthenticator, create_app, local_backend
    from stepgraph.local import LocalEngine

    root = _project(root)
    payments, payments_url, refunds = _payments()
    with LocalEngine(load_project(root), results_dir=root / "results") as engine:
        app = create_app(local_backend(engine, poll_seconds=0.05), TokenAuthenticator(dict(tokens)), heartbeat_seconds=heartbeat_seconds)
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
