"""agents/price_compare: one Nova Act Workflow, one NovaAct browser session per site in threads (a stand-in SDK)."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

AGENT = Path(__file__).resolve().parents[2] / "agents" / "price_compare" / "main.py"
SITES = [{"name": "shop-a", "url": "https://a.example"}, {"name": "shop-b", "url": "https://b.example"}]


def load_agent():
    spec = importlib.util.spec_from_file_location("price_compare_main", AGENT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def agent():
    return load_agent()


class FakeSDK:
    """``Workflow`` and ``NovaAct`` as nova-act 3.4.187.0 names them; records threads and the workflow passed."""

    def __init__(self, prices: dict[str, Any], delay: float = 0.3):
        self.prices, self.delay = prices, delay
        self.sessions: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.open_together = 0
        self._open = 0
        sdk = self

        class Workflow:
            def __init__(self, **kwargs):
                self.kwargs, self.workflow_run_id, self.exited = kwargs, "run-123", False

            def __enter__(self):
                sdk.workflow = self
                return self

            def __exit__(self, *exc):
                self.exited = True
                return False

        class NovaAct:
            def __init__(self, *, starting_page, workflow=None, **kwargs):
                self.page, self.workflow = starting_page, workflow

            def __enter__(self):
                with sdk.lock:
                    sdk._open += 1
                    sdk.open_together = max(sdk.open_together, sdk._open)
                    sdk.sessions.append({"page": self.page, "workflow": self.workflow,
                                         "thread": threading.current_thread().name})
                return self

            def __exit__(self, *exc):
                with sdk.lock:
                    sdk._open -= 1
                return False

            def act_get(self, prompt, schema=None):
                time.sleep(sdk.delay)
                price = sdk.prices[self.page]
                if isinstance(price, Exception):
                    raise price
                return SimpleNamespace(parsed_response={"price": price, "currency": "USD", "title": "set"},
                                       metadata=SimpleNamespace(num_steps_executed=3))

        self.Workflow, self.NovaAct = Workflow, NovaAct


def test_compare_runs_one_browser_session_per_site_in_threads_under_one_workflow(agent):
    sdk = FakeSDK({"https://a.example": 42.5, "https://b.example": 39.0})
    request = agent.parse_request({"input": {"product": "coffee set", "sites": SITES}})

    started = time.monotonic()
    result = agent.compare(request, sdk, {"model_id": "nova-act-latest"})

    assert time.monotonic() - started < 0.55  # two 0.3 s sessions side by side, not one after the other
    assert sdk.open_together == 2
    assert {s["workflow"] for s in sdk.sessions} == {sdk.workflow}  # workflow= passed to every session
    assert all(s["thread"].startswith("nova-act") for s in sdk.sessions)
    assert sdk.workflow.exited
    assert result["cheapest"]["site"] == "shop-b" and result["workflow_run_id"] == "run-123"
    assert [o["site"] for o in result["offers"]] == ["shop-a", "shop-b"]


def test_compare_keeps_a_failed_site_as_an_offer_with_its_error(agent):
    sdk = FakeSDK({"https://a.example": RuntimeError("captcha"), "https://b.example": 39.0}, delay=0)
    result = agent.compare(agent.parse_request({"product": "coffee set", "sites": SITES}), sdk, {})

    assert result["offers"][0] == {"site": "shop-a", "url": "https://a.example", "error": "RuntimeError: captcha"}
    assert result["cheapest"]["site"] == "shop-b"


def test_compare_fails_when_every_site_failed(agent):
    sdk = FakeSDK({"https://a.example": RuntimeError("down"), "https://b.example": RuntimeError("down")}, delay=0)
    with pytest.raises(RuntimeError, match="every site failed"):
        agent.compare(agent.parse_request({"product": "coffee set", "sites": SITES}), sdk, {})


@pytest.mark.parametrize("payload, problem", [({"sites": SITES}, "'product'"),
                                              ({"product": "x", "sites": SITES[:1]}, "2 to 4"),
                                              ({"product": "x", "sites": [SITES[0], {"url": "http://b"}]}, "https://")])
def test_parse_request_names_the_problem(agent, payload, problem):
    with pytest.raises(ValueError, match=problem):
        agent.parse_request(payload)


def test_without_sdk_or_credentials_the_agent_names_both_before_any_browser(agent, monkeypatch):
    monkeypatch.setattr(agent, "sdk_installed", lambda: False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "NOVA_ACT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    with pytest.raises(agent.NovaActSetupError) as caught:
        agent.invoke({"product": "x", "sites": SITES})

    assert caught.value.problems == (agent.MISSING_SDK, agent.MISSING_CREDENTIALS)
