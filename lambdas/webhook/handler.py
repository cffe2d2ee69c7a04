"""Lambda behind a workflow's webhook URL: checks the HMAC-SHA256 signature, then starts the workflow.

A sender signs each delivery with the shared secret kept in Secrets Manager::

    X-Stepgraph-Timestamp: <unix seconds>
    X-Stepgraph-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

A missing, malformed, stale (more than 5 minutes off) or wrong signature answers ``401`` and
starts nothing. A good one starts the workflow's state machine with::

    {"trigger": {"kind": "webhook", "body": <JSON body, or the text>, "headers": {...}, "delivery_id": ...},
     ...the JSON body's top-level keys when it is an object}

and answers ``202 {"executionArn", "executionName"}``. ``X-Stepgraph-Delivery`` (or the request
id) names the execution, so a delivery retried by the sender starts nothing twice.

Environment
-----------
STATE_MACHINE_ARN:
    The workflow's state machine.
WEBHOOK_SECRET_ARN:
    The Secrets Manager secret holding the HMAC key (its ``SecretString``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities import parameters

__all__ = ("signature_for", "verify", "handle", "lambda_handler", "MAX_SKEW_SECONDS")

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepgraph"))
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepgraph"))

#: Deliveries signed more than this many seconds away from now are refused (replays).
MAX_SKEW_SECONDS = 300
#: Seconds the secret is cached between invocations (a rotated secret is picked up after this).
SECRET_MAX_AGE = 300
_FORWARDED_HEADERS = ("content-type", "user-agent", "x-stepgraph-delivery", "x-github-event", "x-request-id")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_sfn: Any = None


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` for a delivery: HMAC-SHA256 of ``"<timestamp>.<body>"`` with ``secret``.

    Examples
    --------
    >>> signature_for("k", "1700000000", b"{}")[:7]
    'sha256='
    """
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> str | None:
    """Return why a delivery is refused, or ``None`` when its signature is good.

    Uses a constant-time comparison (``hmac.compare_digest``).
    """
    timestamp = headers.get("x-stepgraph-timestamp", "")
    signature = headers.get("x-stepgraph-signature", "")
    if not timestamp or not signature:
        return "missing X-Stepgraph-Timestamp or X-Stepgraph-Signature"
    if not timestamp.isdigit():
        return "malformed timestamp"
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    if not hmac.compare_digest(signature_for(secret, timestamp, body), signature):
        return "bad signature"
    return None


def _response(status: int, document: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}


def handle(event: dict[str, Any], *, secret: str, state_machine_arn: str, now: float | None = None) -> dict[str, Any]:
    """Check a Lambda function URL (payload format 2.0) request and start the workflow.

    Returns
    -------
    dict
        The function URL response: ``401`` refused, ``400`` not a POST with a body, ``202`` started.
    """
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    method = (event.get("requestContext", {}).get("http", {}) or {}).get("method", "POST")
    if method != "POST":
        return _response(405, {"message": "use POST"})
    problem = verify(secret, headers, body, now=now)
    if problem:
        logger.warning("webhook delivery refused", extra={"reason": problem})
        return _response(401, {"message": "invalid signature"})
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = body.decode("utf-8", "replace")
    delivery = headers.get("x-stepgraph-delivery") or event.get("requestContext", {}).get("requestId") or str(time.time_ns())
    trigger = {"kind": "webhook", "body": payload, "delivery_id": delivery,
               "headers": {k: v for k, v in headers.items() if k in _FORWARDED_HEADERS}}
    execution_input = {**payload, "trigger": trigger} if isinstance(payload, dict) else {"trigger": trigger}
    name = ("webhook-" + _UNSAFE.sub("-", delivery))[:80]
    global _sfn
    _sfn = _sfn or boto3.client("stepfunctions")
    try:
        arn = _sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))["executionArn"]
    except _sfn.exceptions.ExecutionAlreadyExists:
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        logger.info("webhook delivery already started", extra={"execution_name": name})
    return _response(202, {"executionArn": arn, "executionName": name})


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Function URL entry point."""
    secret = parameters.get_secret(os.environ["WEBHOOK_SECRET_ARN"], max_age=SECRET_MAX_AGE)
    return handle(event, secret=str(secret), state_machine_arn=os.environ["STATE_MACHINE_ARN"])
