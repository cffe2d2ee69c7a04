"""Lambda that starts downstream workflows when an upstream one ends (SPEC §5 chaining).

It is subscribed to the results topic, once per upstream workflow, with a subscription filter
policy on the ``workflowName`` and ``status`` message attributes, so it only hears the results
that start something. For each target it starts the downstream state machine with the seed's
chaining input::

    {"data": <upstream result>, "sessionId": <upstream sessionId>, "session_id": <same>,
     "trigger": {"kind": "api"}, "upstream": {"workflowName", "executionArn", "status", "error"}}

Re-delivered messages start nothing twice: the execution name is derived from the upstream
execution and the target. Step Functions keeps execution names unique per state machine (for
90 days): a second ``StartExecution`` with that name returns the running execution (same input)
or answers ``ExecutionAlreadyExists``, which is logged and skipped.

Environment
-----------
CHAIN_ROUTES:
    JSON ``{"<upstream>": [{"workflow": "<downstream>", "when": "completed"|"failed"|"any",
    "state_machine_arn": "arn:..."}]}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from stepgraph_runtime import env

__all__ = ("chained_execution_name", "chained_input", "start_chained", "lambda_handler")

logger = Logger(service=env.service_name())

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_client: Any = None


def _stepfunctions() -> Any:
    global _client
    if _client is None:
        _client = boto3.client("stepfunctions")
    return _client


def chained_execution_name(upstream_execution_arn: str, downstream: str) -> str:
    """Deterministic execution name for a downstream run (Step Functions: 1–80 of ``[A-Za-z0-9_-]``).

    Examples
    --------
    >>> len(chained_execution_name("arn:aws:states:us-east-1:1:execution:a:run-1", "b")) <= 80
    True
    """
    upstream_name = upstream_execution_arn.rsplit(":", 1)[-1]
    digest = hashlib.sha256(f"{upstream_execution_arn}|{downstream}".encode()).hexdigest()[:12]
    readable = _UNSAFE.sub("-", f"{upstream_name[:40]}-{downstream[:24]}").strip("-")
    return f"{readable}-{digest}"[:80]


def chained_input(record: dict[str, Any]) -> dict[str, Any]:
    """The downstream execution input for an upstream result record (SPEC §5, the seed's shape).

    A record announced by reference (``resultS3Uri`` instead of ``result``) is passed on by
    reference as ``dataS3Uri``: the result may not fit in an execution input (256 KiB).
    """
    document: dict[str, Any] = {
        "data": record.get("result"),
        "sessionId": record.get("sessionId"),
        "session_id": record.get("sessionId"),
        "trigger": {"kind": "api"},
        "upstream": {
            "workflowName": record.get("workflowName"),
            "executionArn": record.get("executionArn"),
            "status": record.get("status"),
            "error": record.get("error"),
        },
    }
    if "resultS3Uri" in record:
        document["dataS3Uri"] = record["resultS3Uri"]
    return document


def start_chained(record: dict[str, Any], routes: dict[str, list[dict[str, str]]]) -> list[str]:
    """Start every downstream workflow the record's upstream chains to; return their execution ARNs.

    Parameters
    ----------
    record:
        The result record (SPEC §5) as announced on the results topic.
    routes:
        ``CHAIN_ROUTES`` (see the module docstring).

    Returns
    -------
    list[str]
        ARNs of the executions started (or found already started by an earlier delivery).
    """
    upstream = record.get("workflowName")
    status = record.get("status")
    started: list[str] = []
    client = _stepfunctions()
    for target in routes.get(str(upstream), []):
        if target.get("when", "completed") not in (status, "any"):
            continue
        name = chained_execution_name(record["executionArn"], target["workflow"])
        try:
            response = client.start_execution(
                stateMachineArn=target["state_machine_arn"], name=name, input=json.dumps(chained_input(record)),
            )
            started.append(response["executionArn"])
            logger.info("chained workflow started", extra={"upstream": upstream, "downstream": target["workflow"], "execution_name": name})
        except client.exceptions.ExecutionAlreadyExists:
            arn = target["state_machine_arn"].replace(":stateMachine:", ":execution:") + f":{name}"
            started.append(arn)
            logger.info("chained workflow already started (message delivered again)", extra={"execution_name": name})
    return started


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SNS entry point: one or more ``Records[].Sns.Message`` holding result records."""
    routes = json.loads(os.environ.get(env.CHAIN_ROUTES, "{}"))
    started: list[str] = []
    for entry in event.get("Records", []):
        started += start_chained(json.loads(entry["Sns"]["Message"]), routes)
    return {"started": started}
