"""The webhook Lambda: HMAC-SHA256 signatures checked before anything starts."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

HANDLER = Path(__file__).resolve().parents[2] / "lambdas" / "webhook" / "handler.py"
SECRET = "whsec-test-4f2a"


@pytest.fixture()
def webhook(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    spec = importlib.util.spec_from_file_location("webhook_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def machine():
    with mock_aws():
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn = boto3.client("stepfunctions")
        definition = json.dumps({"StartAt": "a", "States": {"a": {"Type": "Pass", "End": True}}})
        arn = sfn.create_state_machine(name="Stepgraph-hook", definition=definition, roleArn=role)["stateMachineArn"]
        yield sfn, arn


def _event(body: bytes, headers: dict[str, str]) -> dict:
    return {"headers": headers, "body": body.decode(), "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST"}, "requestId": "req-1"}}


def _signed(webhook, body: bytes, *, secret: str = SECRET, timestamp: int | None = None, delivery: str = "d-1") -> dict:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {"X-Stepgraph-Timestamp": ts, "X-Stepgraph-Signature": webhook.signature_for(secret, ts, body),
            "X-Stepgraph-Delivery": delivery, "Content-Type": "application/json"}


def test_good_signature_starts_workflow_with_webhook_trigger(webhook, machine):
    sfn, arn = machine
    body = json.dumps({"order_id": "ORD-1001", "event": "refund.requested"}).encode()
    answer = webhook.handle(_event(body, _signed(webhook, body)), secret=SECRET, state_machine_arn=arn)
    assert answer["statusCode"] == 202
    execution = json.loads(answer["body"])["executionArn"]
    started = json.loads(sfn.describe_execution(executionArn=execution)["input"])
    assert started["order_id"] == "ORD-1001"
    assert started["trigger"]["kind"] == "webhook"
    assert started["trigger"]["body"]["event"] == "refund.requested"


@pytest.mark.parametrize("tamper", ["wrong-secret", "changed-body", "stale", "missing"])
def test_bad_signature_answers_401_and_starts_nothing(webhook, machine, tamper):
    sfn, arn = machine
    body = b'{"order_id": "ORD-1001"}'
    if tamper == "wrong-secret":
        headers = _signed(webhook, body, secret="not-the-secret")
    elif tamper == "changed-body":
        headers = _signed(webhook, b'{"order_id": "ORD-9999"}')
    elif tamper == "stale":
        headers = _signed(webhook, body, timestamp=int(time.time()) - 3600)
    else:
        headers = {"Content-Type": "application/json"}
    answer = webhook.handle(_event(body, headers), secret=SECRET, state_machine_arn=arn)
    assert answer["statusCode"] == 401
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_redelivered_webhook_starts_one_execution(webhook, machine):
    sfn, arn = machine
    body = b'{"n": 1}'
    headers = _signed(webhook, body, delivery="same-delivery")
    first = webhook.handle(_event(body, headers), secret=SECRET, state_machine_arn=arn)
    second = webhook.handle(_event(body, headers), secret=SECRET, state_machine_arn=arn)
    assert json.loads(first["body"])["executionArn"] == json.loads(second["body"])["executionArn"]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_lambda_handler_reads_secret_from_secrets_manager(webhook, machine, monkeypatch):
    sfn, arn = machine
    secret_arn = boto3.client("secretsmanager").create_secret(Name="stepgraph/webhook/hook", SecretString=SECRET)["ARN"]
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret_arn)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "webhook", 128, "r-1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:webhook"

    body = b'{"x": 1}'
    assert webhook.lambda_handler(_event(body, _signed(webhook, body)), Context())["statusCode"] == 202
