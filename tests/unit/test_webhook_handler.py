"""The webhook Lambda: HMAC-SHA256 signatures over timestamp, delivery id and body; replays start nothing."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from lambda_support import FakeLambdaContext, load_handler

SECRET = "whsec-test-4f2a"
TABLE = "stepgraph-webhook-replays"


@pytest.fixture()
def webhook(aws, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    boto3.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    return load_handler("webhook")


@pytest.fixture()
def machine(webhook):
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "a", "States": {"a": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="Stepgraph-hook", definition=definition, roleArn=role)["stateMachineArn"]
    return sfn, arn


def _event(body: bytes, headers: dict[str, str]) -> dict:
    return {"headers": headers, "body": body.decode(), "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST"}, "requestId": "req-1"}}


def _signed(webhook, body: bytes, *, secret: str = SECRET, timestamp: int | None = None, delivery: str = "d-1") -> dict:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {"X-Stepgraph-Timestamp": ts, "X-Stepgraph-Signature": webhook.signature_for(secret, ts, delivery, body),
            "X-Stepgraph-Delivery": delivery, "Content-Type": "application/json"}


def _send(webhook, arn: str, body: bytes, headers: dict[str, str]) -> dict:
    return webhook.handle(_event(body, headers), secret=SECRET, state_machine_arn=arn, replay_table=TABLE)


def _executions(sfn, arn: str) -> list[dict]:
    return sfn.list_executions(stateMachineArn=arn)["executions"]


def test_good_signature_starts_workflow_with_webhook_trigger(webhook, machine):
    sfn, arn = machine
    body = json.dumps({"order_id": "ORD-1001", "event": "refund.requested"}).encode()
    answer = _send(webhook, arn, body, _signed(webhook, body))
    assert answer["statusCode"] == 202
    execution = json.loads(answer["body"])["executionArn"]
    started = json.loads(sfn.describe_execution(executionArn=execution)["input"])
    assert started["trigger"]["kind"] == "webhook"
    assert started["trigger"]["delivery_id"] == "d-1"
    assert started["trigger"]["body"] == {"order_id": "ORD-1001", "event": "refund.requested"}


@pytest.mark.parametrize("tamper", ["wrong-secret", "changed-body", "stale", "missing", "changed-delivery", "removed-delivery"])
def test_bad_signature_answers_401_and_starts_nothing(webhook, machine, tamper):
    sfn, arn = machine
    body = b'{"order_id": "ORD-1001"}'
    headers = _signed(webhook, body)
    if tamper == "wrong-secret":
        headers = _signed(webhook, body, secret="not-the-secret")
    elif tamper == "changed-body":
        headers = _signed(webhook, b'{"order_id": "ORD-9999"}')
    elif tamper == "stale":
        headers = _signed(webhook, body, timestamp=int(time.time()) - 3600)
    elif tamper == "missing":
        headers = {"Content-Type": "application/json"}
    elif tamper == "changed-delivery":
        headers["X-Stepgraph-Delivery"] = "d-2"
    else:
        del headers["X-Stepgraph-Delivery"]
    assert _send(webhook, arn, body, headers)["statusCode"] == 401
    assert _executions(sfn, arn) == []


def test_replayed_signed_request_with_delivery_changed_or_removed_starts_one_execution(webhook, machine):
    # GIVEN one signed delivery, sent as is, then with its delivery id changed, then removed
    sfn, arn = machine
    body = b'{"n": 1}'
    headers = _signed(webhook, body, delivery="evt-1")
    answers = [_send(webhook, arn, body, headers)["statusCode"]]
    answers.append(_send(webhook, arn, body, {**headers, "X-Stepgraph-Delivery": "evt-2"})["statusCode"])
    answers.append(_send(webhook, arn, body, {k: v for k, v in headers.items() if k != "X-Stepgraph-Delivery"})["statusCode"])
    # THEN only the original started anything
    assert answers == [202, 401, 401]
    assert len(_executions(sfn, arn)) == 1


def test_replay_within_window_answers_first_answer_without_calling_start_execution(webhook, machine, monkeypatch):
    # GIVEN the same signed request sent three times
    sfn, arn = machine
    calls: list[str] = []
    start = webhook._start
    monkeypatch.setattr(webhook, "_start", lambda delivery, machine_arn: calls.append(delivery["name"]) or start(delivery, machine_arn))
    body = b'{"n": 1}'
    headers = _signed(webhook, body, delivery="same-delivery")
    answers = [_send(webhook, arn, body, headers) for _ in range(3)]
    # THEN StartExecution was called once, and every answer names the same execution
    assert len(calls) == 1
    assert {json.loads(a["body"])["executionArn"] for a in answers} == {json.loads(answers[0]["body"])["executionArn"]}
    assert [a["statusCode"] for a in answers] == [202, 202, 202]
    assert len(_executions(sfn, arn)) == 1


def test_same_delivery_id_with_another_body_answers_409(webhook, machine):
    sfn, arn = machine
    assert _send(webhook, arn, b'{"n": 1}', _signed(webhook, b'{"n": 1}', delivery="d-9"))["statusCode"] == 202
    assert _send(webhook, arn, b'{"n": 2}', _signed(webhook, b'{"n": 2}', delivery="d-9"))["statusCode"] == 409
    assert len(_executions(sfn, arn)) == 1


@pytest.mark.parametrize("header, value", [
    ("X-Stepgraph-Timestamp", "١٧٠٠٠٠٠٠٠٠"),  # Arabic-Indic digits: str.isdigit() is True
    ("X-Stepgraph-Timestamp", "1.7e9"),
    ("X-Stepgraph-Signature", "sha256=é" + "0" * 63),
    ("X-Stepgraph-Signature", "md5=abc"),
    ("X-Stepgraph-Delivery", "dé-1"),
    ("X-Stepgraph-Delivery", "x" * 201),
])
def test_unparsable_header_answers_401(webhook, machine, header, value):
    sfn, arn = machine
    body = b'{"n": 1}'
    headers = {**_signed(webhook, body), header: value}
    assert _send(webhook, arn, body, headers)["statusCode"] == 401
    assert _executions(sfn, arn) == []


def test_oversized_body_answers_413_before_start_execution(webhook, machine):
    # GIVEN a well-signed 300 KB body (Step Functions takes at most 256 KiB of input)
    sfn, arn = machine
    body = json.dumps({"blob": "x" * 300_000}).encode()
    answer = _send(webhook, arn, body, _signed(webhook, body))
    assert answer["statusCode"] == 413
    assert _executions(sfn, arn) == []


def test_body_near_limit_is_placed_once_and_fits_start_execution(webhook, machine):
    # GIVEN a signed body of 200 KB
    sfn, arn = machine
    body = json.dumps({"blob": "x" * 200_000}).encode()
    answer = _send(webhook, arn, body, _signed(webhook, body))
    assert answer["statusCode"] == 202
    started = sfn.describe_execution(executionArn=json.loads(answer["body"])["executionArn"])["input"]
    # THEN the execution input holds the body once
    assert started.count("x" * 1000) == 200
    assert len(started.encode()) < webhook.MAX_INPUT_BYTES


@pytest.mark.parametrize("pair", [("x.y", "x/y"), ("a b", "a-b"), ("é", "è"), ("p" * 100 + "1", "p" * 100 + "2")])
def test_distinct_delivery_ids_give_distinct_valid_execution_names(webhook, pair):
    names = [webhook.execution_name(d) for d in pair]
    assert names[0] != names[1]
    for name in names:
        assert len(name) <= 80
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)


def test_lambda_handler_reads_secret_from_secrets_manager(webhook, machine, monkeypatch):
    sfn, arn = machine
    secret_arn = boto3.client("secretsmanager").create_secret(Name="stepgraph/webhook/hook", SecretString=SECRET)["ARN"]
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret_arn)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("REPLAY_TABLE_NAME", TABLE)
    body = b'{"x": 1}'
    assert webhook.lambda_handler(_event(body, _signed(webhook, body)), FakeLambdaContext(function_name="webhook"))["statusCode"] == 202
