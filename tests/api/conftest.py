"""Fixtures of the API tests: the real application on uvicorn, 127.0.0.1, a random port, over the local engine.

One server per test module (starting the engine and its agents costs seconds), started by
``tests/api_server.py``.
"""

from __future__ import annotations

import json
import time
from typing import Iterator

import httpx
import pytest
from api_server import ROOT, ApiServer, running_api

TOKENS = {
    "tok-finance-3f9c2a71": "finance@example.com",
    "tok-cfo-8d41b0e2": "cfo@example.com",
    "tok-mallory-51c7e9aa": "mallory@example.com",
}
FINANCE, CFO, MALLORY = (f"Bearer {t}" for t in TOKENS)


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[ApiServer]:
    with running_api(tmp_path_factory.mktemp("api-project"), TOKENS) as server:
        server.default_authorization = FINANCE
        yield server


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
