"""Tests for the support agent in agents/support_agent (entrypoint and HTTP contract)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

AGENT_DIR = Path(__file__).resolve().parents[2] / "agents" / "support_agent"


def load_agent() -> ModuleType:
    """Import agents/support_agent/main.py by path (``agents`` is not a package)."""
    spec = importlib.util.spec_from_file_location("support_agent_main", AGENT_DIR / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def agent() -> ModuleType:
    return load_agent()


def chat_payload(message: str, customer_id: str | None = "cust-1001", history: list | None = None) -> dict:
    """Build the platform's default payload around a chat execution input."""
    execution_input: dict[str, Any] = {
        "trigger": {"kind": "chat", "current_message": message, "history": history or []},
        "user_id": "user-77",
        "session_id": "chat-session-1",
    }
    if customer_id is not None:
        execution_input["context"] = {"customer_id": customer_id}
    return {"input": execution_input, "steps": {}, "step_id": "agent", "max_iterations": 3}


def order_book() -> dict:
    return json.loads((AGENT_DIR / "data" / "orders.json").read_text())


# ----------------------------------------------------------------------------- entrypoint


def test_invoke_status_question_cites_open_order_facts(agent):
    result = agent.invoke(chat_payload("I need help with my order"), None)

    assert set(result) == {"response", "intent", "customer_id", "order_ids", "escalate"}
    assert result["intent"] == "order_status"
    assert result["customer_id"] == "cust-1001"
    assert result["order_ids"] == ["ORD-1003"]  # the most recent open order
    assert "ORD-1003" in result["response"]
    assert "Ceramic pour-over coffee set" in result["response"]
    assert "2025-04-16" in result["response"]  # ships_by
    assert result["escalate"] is False


def test_invoke_where_question_prefers_shipped_order_with_tracking(agent):
    result = agent.invoke(chat_payload("Where is my package?", customer_id="cust-1003"), None)

    assert result["intent"] == "order_status"
    assert result["order_ids"] == ["ORD-3002"]
    assert "UPS" in result["response"] and "1Z999AA10198765432" in result["response"]
    assert "2025-04-14" in result["response"]


def test_invoke_answer_depends_on_customer(agent):
    ana = agent.invoke(chat_payload("where is my order?", customer_id="cust-1001"), None)
    ben = agent.invoke(chat_payload("where is my order?", customer_id="cust-1002"), None)

    assert ana["response"] != ben["response"]
    assert ana["order_ids"] == ["ORD-1002"]
    assert ben["order_ids"] == ["ORD-2002"]  # no open orders: the most recent one
    assert "delivered on 2025-04-04" in ben["response"]


def test_invoke_refund_for_delivered_order_escalates(agent):
    result = agent.invoke(chat_payload("I'd like a refund please"), None)

    assert result["intent"] == "refund"
    assert result["order_ids"] == ["ORD-1001"]
    assert "$129.00" in result["response"] and "2025-04-05" in result["response"]
    assert "ana.souza@example.com" in result["response"]
    assert result["escalate"] is True


def test_invoke_refund_for_refunded_order_reports_refund_date(agent):
    result = agent.invoke(chat_payload("Where is my refund for ORD-2001?", customer_id="cust-1002"), None)

    assert result["intent"] == "refund"
    assert result["order_ids"] == ["ORD-2001"]
    assert "already refunded on 2025-02-20" in result["response"]
    assert result["escalate"] is False


def test_invoke_cancel_processing_order_escalates(agent):
    result = agent.invoke(chat_payload("Please cancel my order", customer_id="cust-1003"), None)

    assert result["intent"] == "cancel"
    assert result["order_ids"] == ["ORD-3001"]
    assert "can still be cancelled" in result["response"]
    assert result["escalate"] is True


def test_invoke_cancel_uses_order_id_from_history(agent):
    history = [
        {"role": "user", "content": "What's going on with ORD-1002?"},
        {"role": "assistant", "content": "ORD-1002 shipped on 2025-04-11."},
    ]
    result = agent.invoke(chat_payload("OK then cancel it", history=history), None)

    assert result["intent"] == "cancel"
    assert result["order_ids"] == ["ORD-1002"]
    assert "can't be cancelled" in result["response"]
    assert "771234567890" in result["response"]
    assert result["escalate"] is False


def test_invoke_bare_order_id_inherits_intent_from_history(agent):
    history = [
        {"role": "user", "content": "I want to return something"},
        {"role": "assistant", "content": "Sure, which order?"},
    ]
    result = agent.invoke(chat_payload("ORD-1001", history=history), None)

    assert result["intent"] == "refund"
    assert result["order_ids"] == ["ORD-1001"]


def test_invoke_greeting_lists_customer_orders(agent):
    result = agent.invoke(chat_payload("Hello there", customer_id="cust-1004"), None)

    assert result["intent"] == "greeting"
    assert result["response"].startswith("Hi Dana!")
    assert result["order_ids"] == ["ORD-4002", "ORD-4001"]


def test_invoke_unrelated_message_is_other(agent):
    result = agent.invoke(chat_payload("What's the weather like?", customer_id="cust-1002"), None)

    assert result["intent"] == "other"
    assert "not sure I understood" in result["response"]
    assert result["escalate"] is False


def test_invoke_order_of_another_customer_is_not_disclosed(agent):
    result = agent.invoke(chat_payload("Where is ORD-2002?", customer_id="cust-1001"), None)

    assert result["order_ids"] == []
    assert "couldn't find ORD-2002" in result["response"]
    assert "Mechanical keyboard" not in result["response"]


def test_invoke_unknown_customer_asks_for_order_id(agent):
    result = agent.invoke(chat_payload("Where is my order?", customer_id="cust-9999"), None)

    assert result["customer_id"] == "cust-9999"
    assert result["order_ids"] == []
    assert result["escalate"] is False
    assert "order id" in result["response"]


def test_invoke_missing_customer_and_message_does_not_crash(agent):
    result = agent.invoke({"input": {}, "steps": {}, "step_id": "agent", "max_iterations": 1}, None)

    assert result["customer_id"] is None
    assert result["intent"] == "other"
    assert result["escalate"] is False


def test_invoke_customer_falls_back_to_user_id(agent):
    payload = chat_payload("track my order", customer_id=None)
    payload["input"]["user_id"] = "cust-1003"

    result = agent.invoke(payload, None)

    assert result["customer_id"] == "cust-1003"
    assert result["order_ids"] == ["ORD-3002"]


def test_invoke_flat_payload_is_accepted(agent):
    result = agent.invoke({"message": "cancel ORD-1003", "customer_id": "cust-1001"}, None)

    assert result["intent"] == "cancel"
    assert result["order_ids"] == ["ORD-1003"]
    assert result["escalate"] is True


def test_invoke_stream_yields_deltas_then_final(agent):
    events = list(agent.invoke({"message": "where is my order", "customer_id": "cust-1002", "stream": True}, None))

    deltas = [event["delta"] for event in events[:-1]]
    final = events[-1]["final"]
    assert len(deltas) > 1
    assert all(set(event) == {"delta"} for event in events[:-1])
    assert "".join(deltas) == final["response"]
    assert final == agent.invoke({"message": "where is my order", "customer_id": "cust-1002"}, None)


def test_order_book_has_customers_with_orders():
    customers = order_book()["customers"]

    assert len(customers) >= 4
    for customer in customers.values():
        assert 2 <= len(customer["orders"]) <= 3
        for order in customer["orders"]:
            assert order["order_id"].startswith("ORD-")
            assert order["status"] in {"processing", "shipped", "delivered", "refunded"}


# ----------------------------------------------------------------------------- HTTP contract


@pytest.fixture()
def served_agent(serve_agent):
    """``python agents/support_agent/main.py`` on a free port; its base URL."""
    return serve_agent(AGENT_DIR, cwd=AGENT_DIR.parent)  # not the agent folder: the data path must not depend on cwd


def test_served_agent_answers_ping_and_invocations(served_agent):
    ping = httpx.get(f"{served_agent}/ping", timeout=5)
    assert ping.json()["status"] in {"Healthy", "HealthyBusy"}

    response = httpx.post(
        f"{served_agent}/invocations",
        json=chat_payload("Where is my package?", customer_id="cust-1003"),
        headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "s" * 40},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["intent"] == "order_status"
    assert body["order_ids"] == ["ORD-3002"]
    assert "1Z999AA10198765432" in body["response"]


def test_served_agent_streams_server_sent_events(served_agent):
    response = httpx.post(
        f"{served_agent}/invocations",
        json={"message": "I want to return ORD-2002", "customer_id": "cust-1002", "stream": True},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[len("data: "):]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["final"]["intent"] == "refund"
    assert events[-1]["final"]["order_ids"] == ["ORD-2002"]
    assert "".join(event["delta"] for event in events[:-1]) == events[-1]["final"]["response"]
