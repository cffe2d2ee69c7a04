"""Each example workflow of workflows/ runs locally with its example input (README "Examples")."""

from __future__ import annotations

import copy
import importlib.util
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def payments_api():
    """examples/payments_api.py on a free loopback port; yields its base URL."""
    spec = importlib.util.spec_from_file_location("payments_api", ROOT / "examples" / "payments_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.serve(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", module.REFUNDS
    server.shutdown()


def _refund_input(load_example, url: str, order_id: str) -> dict:
    execution_input = copy.deepcopy(load_example("refund-approval.input.json"))
    execution_input["context"]["payments_url"] = url
    execution_input["order_id"] = order_id
    return execution_input


def test_refund_over_100_approved_is_refunded_by_the_payments_api(project, tmp_path, payments_api, load_example):
    from stepgraph.local import LocalEngine

    url, refunds = payments_api
    with LocalEngine(project, results_dir=tmp_path, approval_decision="approved") as engine:
        result = engine.run("refund-approval", _refund_input(load_example, url, "ORD-1001"))
        (approval,) = engine.approvals.list(status="approved")
    assert result.record["status"] == "completed"
    assert result.record["result"]["refunded"] is True
    assert result.record["result"]["refund_id"].startswith("rf_")
    assert result.record["result"]["approved_by"] == "finance@example.com"
    assert "ORD-1001" in approval.message and "Zipper broke" in approval.message
    assert any(r["order_id"] == "ORD-1001" for r in refunds.values())


def test_refund_over_100_rejected_is_declined_without_calling_payments(project, tmp_path, payments_api, load_example):
    from stepgraph.local import LocalEngine

    url, refunds = payments_api
    before = len(refunds)
    with LocalEngine(project, results_dir=tmp_path, approval_decision="rejected") as engine:
        record = engine.run("refund-approval", _refund_input(load_example, url, "ORD-1001")).record
    assert record["status"] == "completed"
    assert record["result"]["refunded"] is False
    assert record["result"]["reason"].startswith("declined by finance@example.com")
    assert len(refunds) == before


def test_small_refund_skips_the_approval(project, tmp_path, payments_api, load_example):
    from stepgraph.local import LocalEngine

    url, _ = payments_api
    with LocalEngine(project, results_dir=tmp_path) as engine:  # no decision: an approval would stop the run
        result = engine.run("refund-approval", _refund_input(load_example, url, "ORD-1003"))
        assert engine.approvals.list(status=None) == []
    assert result.record["status"] == "completed"
    assert result.record["result"]["refunded"] is True


def test_order_digest_loops_customers_with_parallel_lookups(engine, load_example):
    record = engine.run("order-digest", load_example("order-digest.input.json")).record
    assert record["status"] == "completed"
    digest = record["result"]
    assert digest["customers"] == 3
    assert [c["customer_id"] for c in digest["by_customer"]] == ["cust-1001", "cust-1002", "cust-1003"]
    assert [c["position"] for c in digest["by_customer"]] == [0, 1, 2]
    first = digest["by_customer"][0]
    assert {o["order_id"] for o in first["orders"]} >= {"ORD-1001", "ORD-1003"}
    assert "ORD-" in first["answer"]
    assert digest["open_orders"] >= 1


def test_daily_report_waits_then_reports_open_orders(engine):
    result = engine.run("daily-report", {"trigger": {"kind": "schedule", "cron": "0 8 * * ? *"}})
    record = result.record
    assert record["status"] == "completed"
    assert record["result"]["count"] >= 4
    assert all(order_id.startswith("ORD-") for order_id in record["result"]["open_orders"])
    assert result.skipped_seconds >= 300  # the delay step, fast-forwarded


def test_nova_act_workflow_without_credentials_fails_fast_with_agent_error(engine, load_example):
    started = time.monotonic()
    record = engine.run("getting-started", load_example("getting-started.input.json")).record
    assert time.monotonic() - started < 60
    assert record["status"] == "failed"
    assert record["error"]["code"] == "AGENT_ERROR"
    assert record["error"]["step"] == "browse"
    assert "Traceback" not in record["error"]["message"]
    assert "nova" in record["error"]["message"].lower()
