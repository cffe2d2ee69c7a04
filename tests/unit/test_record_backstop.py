"""The backstop's record for an ending no Catch sees: the failing step's own error code."""

from __future__ import annotations

import json

from lambda_support import load_handler

ARN = "arn:aws:states:us-east-1:123456789012:execution:Stepgraph-orders:run-1"


class FakeStepFunctions:
    """What the backstop reads: the execution's history, newest first (as ``reverseOrder=True``)."""

    def __init__(self, events):
        self.events = events

    def get_execution_history(self, **kwargs):
        return {"events": list(reversed(self.events))}


def _history(payload: dict) -> list[dict]:
    return [
        {"id": 1, "type": "ExecutionStarted"},
        {"id": 2, "type": "PassStateEntered", "stateEnteredEventDetails": {"name": "trigger"}},
        {"id": 3, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "fetch"}},
        {"id": 4, "type": "TaskScheduled", "taskScheduledEventDetails": {
            "resourceType": "lambda", "resource": "invoke",
            "parameters": json.dumps({"FunctionName": "arn:aws:lambda:us-east-1:1:function:tool", "Payload": payload})}},
        {"id": 5, "type": "ExecutionFailed"},
    ]


def test_data_limit_failure_of_a_tool_step_is_recorded_as_tool_error(monkeypatch) -> None:
    handler = load_handler("record_backstop")
    monkeypatch.setitem(handler._clients, "stepfunctions",
                        FakeStepFunctions(_history({"tool": "lookup_order", "step_id": "fetch", "error_code": "TOOL_ERROR"})))
    record = handler.record_for({"executionArn": ARN, "name": "run-1", "status": "FAILED",
                                 "error": "States.DataLimitExceeded", "cause": "result too large"}, "orders")
    assert record["error"] == {"code": "TOOL_ERROR", "message": "States.DataLimitExceeded: result too large", "step": "fetch"}


def test_failure_of_a_step_without_a_code_stays_agent_error(monkeypatch) -> None:
    handler = load_handler("record_backstop")
    monkeypatch.setitem(handler._clients, "stepfunctions", FakeStepFunctions(_history({"step_id": "fetch"})))
    record = handler.record_for({"executionArn": ARN, "name": "run-1", "status": "FAILED",
                                 "error": "States.Runtime", "cause": "bad"}, "orders")
    assert record["error"]["code"] == "AGENT_ERROR" and record["error"]["step"] == "fetch"
