"""Lambda that opens a human approval: stores the request (with its task token) and notifies approvers.

The state machine calls it with ``lambda:invoke.waitForTaskToken`` and then waits. The task token
stays in the DynamoDB table, never in the notification: whoever decides goes through
``stepgraph.approvals.decide_approval`` (or the CLI), which checks the approver and the expiry
before it calls ``SendTaskSuccess``.

Environment
-----------
APPROVALS_TABLE_NAME:
    DynamoDB table of approval requests (partition key ``approval_id``).
APPROVALS_TOPIC_ARN:
    SNS topic on which approvers are notified (optional: without it nobody is notified).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from stepgraph_runtime import env

__all__ = ("VALIDATION_ERROR", "approval_id_for", "open_approval", "lambda_handler")

logger = Logger(service=env.service_name())

#: Extra days a decided or expired request stays in the table before DynamoDB's TTL removes it.
RETENTION_DAYS = 30
_REQUIRED = ("task_token", "workflow_name", "execution_arn", "step_id", "approvers", "timeout_seconds")


from stepgraph_runtime.errors import VALIDATION_ERROR  # noqa: E402 - the event lacks a field the approval needs


def approval_id_for(task_token: str) -> str:
    """A stable id for the request behind a task token (24 hex characters).

    Deterministic, so a retried invocation finds the request it already stored instead of
    opening a second one; the token itself is never exposed.
    """
    return hashlib.sha256(task_token.encode("utf-8")).hexdigest()[:24]


def _table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ[env.APPROVALS_TABLE_NAME])


def open_approval(event: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Store an approval request and notify the approvers.

    Parameters
    ----------
    event:
        ``{"action": "request", "task_token", "workflow_name", "execution_arn", "execution_name",
        "step_id", "approvers": [str], "message": str, "timeout_seconds": int}``.
    now:
        Current time (UTC); for tests.

    Returns
    -------
    dict
        ``{"approval_id", "expires_at"}`` (Step Functions ignores it: the state waits for the token).

    Raises
    ------
    VALIDATION_ERROR
        When a required field is missing.
    """
    missing = [k for k in _REQUIRED if not event.get(k)]
    if missing:
        raise VALIDATION_ERROR(f"approval request lacks {missing}")
    now = now or datetime.now(timezone.utc)
    expires = now + timedelta(seconds=int(event["timeout_seconds"]))
    approval_id = approval_id_for(event["task_token"])
    item = {
        "approval_id": approval_id,
        "status": "pending",
        "workflow_name": event["workflow_name"],
        "execution_arn": event["execution_arn"],
        "execution_name": event.get("execution_name") or event["execution_arn"].rsplit(":", 1)[-1],
        "step_id": event["step_id"],
        "approvers": list(event["approvers"]),
        "message": str(event.get("message") or ""),
        "task_token": event["task_token"],
        "requested_at": now.isoformat(),
        "expires_at": expires.isoformat(),
        "ttl": int((expires + timedelta(days=RETENTION_DAYS)).timestamp()),
    }
    try:
        _table().put_item(Item=item, ConditionExpression="attribute_not_exists(approval_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("approval already stored (retried invocation)", extra={"approval_id": approval_id})
        return {"approval_id": approval_id, "expires_at": item["expires_at"]}
    topic = os.environ.get(env.APPROVALS_TOPIC_ARN)
    if topic:
        notice = {k: item[k] for k in ("approval_id", "workflow_name", "execution_name", "execution_arn", "step_id",
                                        "approvers", "message", "requested_at", "expires_at")}
        boto3.client("sns").publish(
            TopicArn=topic,
            Subject=f"Approval requested: {item['workflow_name']} / {item['step_id']}"[:100],
            Message=json.dumps(notice),
            MessageAttributes={"workflowName": {"DataType": "String", "StringValue": item["workflow_name"]}},
        )
    logger.info("approval opened", extra={"approval_id": approval_id, "workflow_name": item["workflow_name"], "step_id": item["step_id"]})
    return {"approval_id": approval_id, "expires_at": item["expires_at"]}


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: open the approval described by ``event``."""
    return open_approval(event)
