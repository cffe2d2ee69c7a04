"""End to end: workflows/customer-support.json on the local engine, result in S3 and on SNS."""

from __future__ import annotations

import copy
import json

import pytest

from stepgraph import result_key
from stepgraph.local.engine import RESULTS_BUCKET_NAME
from stepgraph.substitutions import INVOKE_AGENT_FUNCTION

pytestmark = pytest.mark.slow


def test_run_customer_support_writes_completed_record_to_s3_and_sns(engine, results_queue, load_example, drain):
    # GIVEN the seed's chat request
    execution_input = load_example("customer-support.input.json")
    events = []

    # WHEN the workflow runs locally
    result = engine.run("customer-support", execution_input, on_event=events.append)

    # THEN the record says completed and carries the agent's answer about this customer's orders
    record = result.record
    assert record["status"] == "completed"
    assert record["error"] is None
    assert record["workflowName"] == "customer-support"
    assert record["sessionId"] == "chat-session-7f3a9c21"
    assert record["result"]["customer_id"] == "cust-1001"
    assert record["result"]["escalated"] is False
    assert "ORD-10" in record["result"]["reply"]
    assert set(record) >= {"executionArn", "executionName", "startedAt", "completedAt"}
    # and step events were streamed in order
    started = [e.name for e in events if e.kind == "step_start"]
    assert started[:3] == ["trigger", "agent", "needs_person"]
    # and the S3 object is the same record
    body = engine.client("s3").get_object(Bucket=RESULTS_BUCKET_NAME, Key=result_key("customer-support", record["executionName"]))["Body"].read()
    assert json.loads(body) == record
    # and the SNS announcement carries it with filterable attributes
    envelopes = drain(results_queue)
    (envelope,) = [e for e in envelopes if e["MessageAttributes"]["workflowName"]["Value"] == "customer-support"]
    assert json.loads(envelope["Message"]) == record
    assert envelope["MessageAttributes"]["workflowName"]["Value"] == "customer-support"
    assert envelope["MessageAttributes"]["status"]["Value"] == "completed"
    # and a copy lies on disk
    assert json.loads(result.record_path.read_text()) == record


def test_run_customer_support_answer_depends_on_message_and_customer(engine, load_example):
    base = load_example("customer-support.input.json")
    refund = copy.deepcopy(base)
    refund["trigger"]["current_message"] = "I want a refund for my backpack, it arrived broken"
    other_customer = copy.deepcopy(base)
    other_customer["context"]["customer_id"] = "cust-1002"

    first = engine.run("customer-support", base).record["result"]
    second = engine.run("customer-support", refund).record["result"]
    third = engine.run("customer-support", other_customer).record["result"]

    assert first["intent"] == "order_status"
    assert second["intent"] == "refund"
    assert third["customer_id"] == "cust-1002"
    assert len({first["reply"], second["reply"], third["reply"]}) == 3


def test_run_high_priority_input_takes_escalation_branch(engine, load_example):
    execution_input = load_example("customer-support.input.json") | {"priority": "high"}
    record = engine.run("customer-support", execution_input).record
    assert record["result"]["escalated"] is True
    assert record["result"]["note"] == "Handed to a support specialist for session chat-session-7f3a9c21"


def test_run_failing_agent_writes_failed_record_naming_code_and_step(engine, results_queue, load_example, drain):
    # GIVEN an invoker whose runtime keeps failing
    class AGENT_ERROR(Exception):
        pass

    calls = []

    def failing(event, context):
        calls.append(event)
        raise AGENT_ERROR("runtime returned HTTP 500")

    original = engine.registry.handler_for("stepgraph-invoke-agent")
    engine.register_handler(INVOKE_AGENT_FUNCTION, failing)
    try:
        result = engine.run("customer-support", load_example("customer-support.input.json"))
    finally:
        engine.register_handler(INVOKE_AGENT_FUNCTION, original)

    # THEN the step's retry policy ran (max_attempts 3) and the failure still wrote its record
    assert len(calls) == 3
    record = result.record
    assert record["status"] == "failed"
    assert record["result"] is None
    assert record["error"] == {"code": "AGENT_ERROR", "message": "runtime returned HTTP 500", "step": "agent"}
    (envelope,) = drain(results_queue)  # a failed run starts no follow-up (on_complete: completed)
    assert envelope["MessageAttributes"]["status"]["Value"] == "failed"
    status = engine.client("stepfunctions").describe_execution(executionArn=result.execution_arn)
    assert status["status"] == "FAILED" and status["error"] == "AGENT_ERROR"


def test_completed_support_chat_starts_the_followup_workflow(engine, load_example):
    execution_input = load_example("customer-support.input.json")
    execution_input["trigger"]["current_message"] = "I want a refund for my backpack, it arrived broken"
    result = engine.run("customer-support", execution_input)
    (followup,) = result.chained
    assert followup.record["workflowName"] == "support-followup"
    assert followup.record["sessionId"] == "chat-session-7f3a9c21"
    assert followup.record["result"]["ticket"] == "follow-up for cust-1001 (refund)"
    assert followup.record["result"]["from"] == "customer-support"
