"""The approvals decider (deployed): the API invokes it with the verified identity; its errors map back to HTTP codes."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from stepgraph import approvals
from stepgraph.api.backend import _LambdaDecider
from stepgraph.api.decider import handle
from stepgraph.identity import VerifiedIdentity

TABLE = "approvals"


class _LambdaInProcess:
    """Answers ``lambda.invoke`` like Lambda: the handler's result, or ``FunctionError`` with errorType/errorMessage."""

    def __init__(self, store):
        self.store = store
        self.events = []

    def invoke(self, FunctionName, Payload):  # noqa: N803 - boto3's parameter names
        event = json.loads(Payload)
        self.events.append(event)
        try:
            body, error = handle(event, self.store), None
        except Exception as exc:  # noqa: BLE001 - what Lambda does
            body, error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}, "Unhandled"
        answer = {"Payload": io.BytesIO(json.dumps(body).encode())}
        return {**answer, "FunctionError": error} if error else answer


@pytest.fixture()
def decider(aws_env):
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}])
        now = datetime.now(timezone.utc)
        ddb.put_item(TableName=TABLE, Item={
            "approval_id": {"S": "a-1"}, "status": {"S": "pending"}, "workflow_name": {"S": "refund-approval"},
            "execution_arn": {"S": "arn:aws:states:us-east-1:123456789012:execution:x:e-1"}, "execution_name": {"S": "e-1"},
            "step_id": {"S": "finance_approval"}, "approvers": {"L": [{"S": "finance@example.com"}]},
            "message": {"S": "refund?"}, "requested_at": {"S": now.isoformat()},
            "expires_at": {"S": (now + timedelta(hours=1)).isoformat()}, "task_token": {"S": "secret-token"}})
        store = approvals.ApprovalStore(TABLE, dynamodb=ddb, stepfunctions=boto3.client("stepfunctions", region_name="us-east-1"))
        fake = _LambdaInProcess(store)
        yield _LambdaDecider(store, fake, "decider"), fake


def test_decider_refuses_a_non_approver_with_the_approval_error(decider):
    remote, fake = decider
    with pytest.raises(approvals.NotAnApproverError):
        remote.decide("a-1", "approved", identity=VerifiedIdentity("mallory@example.com", "cognito"))
    assert fake.events[0]["identity"] == {"subject": "mallory@example.com", "method": "cognito"}
    assert remote.get("a-1").status == "pending"


def test_decider_records_the_verified_approver_and_answers_closed_or_unknown_requests(decider):
    remote, _ = decider
    finance = VerifiedIdentity("finance@example.com", "cognito")
    with pytest.raises(approvals.ApprovalNotFoundError):
        remote.decide("nope", "approved", identity=finance)
    decided = remote.decide("a-1", "approved", identity=finance, comment="ok")
    assert (decided.status, decided.approver, decided.approver_verified_by) == ("approved", "finance@example.com", "cognito")
    with pytest.raises(approvals.ApprovalClosedError):
        remote.decide("a-1", "rejected", identity=finance)


def test_listing_through_the_api_path_never_reads_the_task_token(decider):
    remote, _ = decider
    (listed,) = remote.list("pending")
    assert "secret-token" not in json.dumps(listed.to_dict())
    assert "secret-token" not in json.dumps(remote.get("a-1").to_dict())
