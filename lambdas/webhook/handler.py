"""Lambda behind a workflow's webhook URL: checks the HMAC-SHA256 signature, then starts the workflow.

A sender signs each delivery with the shared secret kept in Secrets Manager::

    X-Stepgraph-Timestamp: <unix seconds, ASCII digits>
    X-Stepgraph-Delivery: <delivery id, 1-200 printable ASCII characters, unique per delivery>
    X-Stepgraph-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<delivery id>.<raw body>">

A missing, malformed, stale (more than 5 minutes off) or wrong signature answers ``401`` and
starts nothing. The delivery id is inside the signed string, so it cannot be changed or
removed without the secret. A body over :data:`MAX_BODY_BYTES`, or one whose execution input
would pass Step Functions' 256 KiB input limit, answers ``413`` and starts nothing. A good
delivery starts the workflow's state machine with::

    {"trigger": {"kind": "webhook", "body": <JSON body, or the text>, "delivery_id": ..., "headers": {...}}}

(the body once, under ``trigger.body``) and answers ``202 {"executionArn", "executionName"}``.

Nothing is started twice for one delivery id: the execution name is derived from it
(:func:`execution_name`, collision-free), and a **replay cache** (Powertools Idempotency on
DynamoDB: a conditional write whose record expires after :data:`REPLAY_WINDOW_SECONDS`)
answers a replayed delivery within the signature window with the first answer and starts
nothing. The same delivery id with another body answers ``409``.

Environment
-----------
STATE_MACHINE_ARN:
    The workflow's state machine.
WEBHOOK_SECRET_ARN:
    The Secrets Manager secret holding the HMAC key (its ``SecretString``).
REPLAY_TABLE_NAME:
    The DynamoDB table of the replay cache (partition key ``id``, TTL attribute ``expiration``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from typing import Any, Callable

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

__all__ = (
    "signature_for",
    "verify",
    "execution_name",
    "handle",
    "lambda_handler",
    "MAX_SKEW_SECONDS",
    "MAX_BODY_BYTES",
    "MAX_INPUT_BYTES",
    "REPLAY_WINDOW_SECONDS",
)

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepgraph"))

#: Deliveries signed more than this many seconds away from now are refused (replays).
MAX_SKEW_SECONDS = 300
#: How long a delivery id is remembered. A timestamp is accepted from ``ts - 300`` to
#: ``ts + 300``, so a delivery first seen at ``now`` can be valid until ``now + 600``; one
#: minute more for clock drift between Lambda hosts.
REPLAY_WINDOW_SECONDS = 2 * MAX_SKEW_SECONDS + 60
#: Step Functions' limit on an execution's input: 256 KiB of UTF-8 (Step Functions developer
#: guide, "Step Functions service quotas": "Maximum input or output size for a task, state,
#: or execution").
MAX_INPUT_BYTES = 262_144
#: Largest raw body accepted (checked before the signature is computed); the execution input
#: adds the trigger's envelope, and is checked against :data:`MAX_INPUT_BYTES` again.
MAX_BODY_BYTES = MAX_INPUT_BYTES - 4_096
#: Seconds the secret is cached between invocations (a rotated secret is picked up after this).
SECRET_MAX_AGE = 300
_FORWARDED_HEADERS = ("content-type", "user-agent", "x-github-event", "x-request-id")
_TIMESTAMP = re.compile(r"[0-9]{1,12}\Z", re.ASCII)
_DELIVERY = re.compile(r"[\x21-\x7e]{1,200}\Z", re.ASCII)
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}\Z", re.ASCII)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_sfn: Any = None
_starters: dict[str, tuple[Callable[..., dict[str, Any]], IdempotencyConfig]] = {}


def signature_for(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<delivery id>.<body>"`` under ``secret``.

    Parameters
    ----------
    secret:
        The shared HMAC key.
    timestamp:
        Unix seconds, ASCII digits (the ``X-Stepgraph-Timestamp`` header).
    delivery_id:
        The ``X-Stepgraph-Delivery`` header (printable ASCII).
    body:
        The raw request body.

    Examples
    --------
    >>> signature_for("k", "1700000000", "d-1", b"{}")[:7]
    'sha256='
    """
    message = timestamp.encode("ascii") + b"." + delivery_id.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> str | None:
    """Return why a delivery is refused, or ``None`` when its signature is good.

    Every header is checked against its exact ASCII shape before use, so no header value can
    raise (non-ASCII digits, say); the comparison is constant-time (``hmac.compare_digest``).
    """
    timestamp = headers.get("x-stepgraph-timestamp", "")
    signature = headers.get("x-stepgraph-signature", "")
    delivery = headers.get("x-stepgraph-delivery", "")
    if not timestamp or not signature or not delivery:
        return "missing X-Stepgraph-Timestamp, X-Stepgraph-Delivery or X-Stepgraph-Signature"
    if not _TIMESTAMP.match(timestamp):
        return "malformed timestamp"
    if not _DELIVERY.match(delivery):
        return "malformed delivery id"
    if not _SIGNATURE.match(signature):
        return "malformed signature"
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    if not hmac.compare_digest(signature_for(secret, timestamp, delivery, body), signature):
        return "bad signature"
    return None


def execution_name(delivery_id: str) -> str:
    """The execution name of a delivery: ``webhook-<readable part>-<SHA-256 of the id>``.

    Step Functions names allow 1-80 of ``[0-9A-Za-z_-]`` (StartExecution API reference). The
    readable part (the id with other characters replaced, at most 24) helps an operator; the
    40 hex digits (160 bits) of the id's SHA-256 keep distinct ids distinct (``x.y`` and ``x/y``).
    """
    readable = _UNSAFE.sub("-", delivery_id)[:24].strip("-") or "id"
    return f"webhook-{readable}-{hashlib.sha256(delivery_id.encode('utf-8')).hexdigest()[:40]}"


def _response(status: int, document: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}


def _start(delivery: dict[str, Any], state_machine_arn: str) -> dict[str, Any]:
    """StartExecution for one delivery (``{"id", "body_sha256", "name", "input"}``); the answer's body."""
    global _sfn
    _sfn = _sfn or boto3.client("stepfunctions")
    name = delivery["name"]
    try:
        arn = _sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=delivery["input"])["executionArn"]
    except _sfn.exceptions.ExecutionAlreadyExists:
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        logger.info("webhook delivery already started", extra={"execution_name": name})
    return {"executionArn": arn, "executionName": name}


def _starter(table_name: str) -> tuple[Callable[..., dict[str, Any]], IdempotencyConfig]:
    """``_start`` behind the replay cache in ``table_name`` (one persistence layer per table), and its config."""
    if table_name not in _starters:
        config = IdempotencyConfig(
            event_key_jmespath="id",
            payload_validation_jmespath="body_sha256",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=REPLAY_WINDOW_SECONDS,
            hash_function="sha256",
        )
        store = DynamoDBPersistenceLayer(table_name=table_name)

        @idempotent_function(data_keyword_argument="delivery", persistence_store=store, config=config)
        def start_once(*, delivery: dict[str, Any], state_machine_arn: str) -> dict[str, Any]:
            return _start(delivery, state_machine_arn)

        _starters[table_name] = (start_once, config)
    return _starters[table_name]


def handle(
    event: dict[str, Any],
    *,
    secret: str,
    state_machine_arn: str,
    replay_table: str,
    now: float | None = None,
    lambda_context: Any = None,
) -> dict[str, Any]:
    """Check a Lambda function URL (payload format 2.0) request and start the workflow once.

    Parameters
    ----------
    event:
        The function URL event.
    secret:
        The HMAC key.
    state_machine_arn:
        The workflow's state machine.
    replay_table:
        The replay cache's DynamoDB table.
    now:
        Unix seconds to check the timestamp against (tests). Default: the clock.
    lambda_context:
        The Lambda context: an in-progress record then expires with the invocation.

    Returns
    -------
    dict
        The function URL response: ``405`` not a POST, ``413`` too large, ``401`` refused,
        ``409`` the delivery id was used for another body (or is being started right now),
        ``202`` started (or, for a replay, the first answer; nothing started).
    """
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    method = (event.get("requestContext", {}).get("http", {}) or {}).get("method", "POST")
    if method != "POST":
        return _response(405, {"message": "use POST"})
    raw = event.get("body") or ""
    if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:  # bound before decoding; base64 is 4/3 of the bytes
        return _response(413, {"message": f"body larger than {MAX_BODY_BYTES} bytes"})
    try:
        body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode("utf-8")
    except ValueError:
        return _response(400, {"message": "body is not valid base64"})
    if len(body) > MAX_BODY_BYTES:
        return _response(413, {"message": f"body larger than {MAX_BODY_BYTES} bytes"})
    problem = verify(secret, headers, body, now=now)
    if problem:
        logger.warning("webhook delivery refused", extra={"reason": problem})
        return _response(401, {"message": "invalid signature"})
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = body.decode("utf-8", "replace")
    delivery_id = headers["x-stepgraph-delivery"]
    trigger = {"kind": "webhook", "body": payload, "delivery_id": delivery_id,
               "headers": {k: v for k, v in headers.items() if k in _FORWARDED_HEADERS}}
    execution_input = json.dumps({"trigger": trigger}, ensure_ascii=False)
    if len(execution_input.encode("utf-8")) > MAX_INPUT_BYTES:
        return _response(413, {"message": f"execution input larger than Step Functions' {MAX_INPUT_BYTES} bytes"})
    delivery = {"id": delivery_id, "body_sha256": hashlib.sha256(body).hexdigest(),
                "name": execution_name(delivery_id), "input": execution_input}
    start_once, config = _starter(replay_table)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    try:
        answer = start_once(delivery=delivery, state_machine_arn=state_machine_arn)
    except IdempotencyValidationError:
        logger.warning("webhook delivery id reused for another body", extra={"delivery_id": delivery_id})
        return _response(409, {"message": "this delivery id was already used for another body"})
    except IdempotencyAlreadyInProgressError:
        return _response(409, {"message": "this delivery is being started; retry later"})
    return _response(202, answer)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Function URL entry point."""
    secret = parameters.get_secret(os.environ["WEBHOOK_SECRET_ARN"], max_age=SECRET_MAX_AGE)
    return handle(event, secret=str(secret), state_machine_arn=os.environ["STATE_MACHINE_ARN"],
                  replay_table=os.environ["REPLAY_TABLE_NAME"], lambda_context=context)
