"""Text chunks of streaming agents, published while the step runs and read by the API's event streams.

An agent that answers ``text/event-stream`` produces its answer in chunks. ``lambdas/invoke_agent``
drains the stream and returns the whole answer as the step's output; to let
``GET /api/executions/{id}/stream`` show the chunks *while* the step runs, it also writes each
text chunk to a small DynamoDB table with :class:`DeltaPublisher`, and the API reads them back
with :func:`read_deltas`. Locally the table lives in the engine's emulated DynamoDB and the
handler runs in-process; deployed, the API stack owns the table. Same code either way.

Part of the runtime package every function bundles (standard library and boto3 only).

Table (``STREAM_DELTAS_TABLE``): partition key ``execution`` (``"<workflow>/<execution name>"``),
sort key ``seq`` (a number: nanoseconds since the epoch x 1000 + chunk index modulo 1000, so
chunks sort in the order they were written), attributes ``step_id``, ``text``, ``index`` and
``ttl`` (epoch seconds; DynamoDB removes the item a day later).
"""

from __future__ import annotations

import os
import time
from typing import Any

from . import env

__all__ = ["TABLE_ENV", "TTL_SECONDS", "DeltaPublisher", "create_table", "execution_key", "publisher_for", "read_deltas"]

#: Environment variable naming the deltas table; without it nothing is published.
TABLE_ENV = env.STREAM_DELTAS_TABLE
#: How long a chunk stays in the table (DynamoDB TTL); replays of older executions show no deltas.
TTL_SECONDS = 24 * 3600
#: Longest text stored per item (DynamoDB items are at most 400 KB); longer chunks are split.
MAX_TEXT_CHARS = 64 * 1024


def execution_key(workflow_name: str, execution_name: str) -> str:
    """The partition key of an execution's chunks: ``"<workflow>/<execution name>"``.

    Execution names are unique per state machine, and a workflow is one state machine.
    """
    return f"{workflow_name}/{execution_name}"


class DeltaPublisher:
    """Writes the text chunks of one agent invocation (one step attempt).

    Parameters
    ----------
    table_name:
        The deltas table.
    workflow_name, execution_name, step_id:
        Where the chunks belong (the invoker's event carries all three).
    client:
        A boto3 DynamoDB client. Default: one from the environment.

    Notes
    -----
    Publishing never fails the step: the chunks are a live preview, the step's output is the
    whole answer. A write that fails is counted in ``failures`` and dropped.

    Examples
    --------
    >>> publisher = DeltaPublisher("deltas", "customer-support", "api-1f2e", "agent")  # doctest: +SKIP
    >>> publisher.publish("Your order ")  # doctest: +SKIP
    """

    def __init__(self, table_name: str, workflow_name: str, execution_name: str, step_id: str, *, client: Any = None):
        self.table_name = table_name
        self.key = execution_key(workflow_name, execution_name)
        self.step_id = step_id
        self.index = 0
        self.failures = 0
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.client = client

    def publish(self, text: str) -> None:
        """Store one chunk of text (empty text is ignored)."""
        for start in range(0, len(text), MAX_TEXT_CHARS):
            piece = text[start:start + MAX_TEXT_CHARS]
            seq = time.time_ns() * 1000 + self.index % 1000
            item = {
                "execution": {"S": self.key},
                "seq": {"N": str(seq)},
                "step_id": {"S": self.step_id},
                "index": {"N": str(self.index)},
                "text": {"S": piece},
                "ttl": {"N": str(int(time.time()) + TTL_SECONDS)},
            }
            self.index += 1
            try:
                self.client.put_item(TableName=self.table_name, Item=item)
            except Exception:  # noqa: BLE001 - a live preview must never fail the step
                self.failures += 1


def publisher_for(event: Any, *, client: Any = None) -> DeltaPublisher | None:
    """A publisher for an invoker event, or ``None`` when no table is configured or the event lacks names.

    Parameters
    ----------
    event:
        The ``invoke_agent`` event: ``workflow_name``, ``execution_name``, ``step_id``.
    client:
        A boto3 DynamoDB client. Default: one from the environment.
    """
    table = os.environ.get(TABLE_ENV)
    if not table or not isinstance(event, dict):
        return None
    names = [event.get(k) for k in ("workflow_name", "execution_name", "step_id")]
    if not all(isinstance(n, str) and n for n in names):
        return None
    return DeltaPublisher(table, *names, client=client)


def read_deltas(client: Any, table_name: str, key: str, *, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """The chunks of an execution written after sequence number ``after``, oldest first.

    Parameters
    ----------
    client:
        A boto3 DynamoDB client.
    table_name:
        The deltas table.
    key:
        :func:`execution_key` of the execution.
    after:
        Only chunks with a larger ``seq``.
    limit:
        At most this many.

    Returns
    -------
    list of dict
        ``{"seq": int, "step_id": str, "index": int, "text": str, "time_ns": int}``.
    """
    response = client.query(
        TableName=table_name,
        KeyConditionExpression="#e = :e AND #s > :s",
        ExpressionAttributeNames={"#e": "execution", "#s": "seq"},
        ExpressionAttributeValues={":e": {"S": key}, ":s": {"N": str(after)}},
        ConsistentRead=True,
        Limit=limit,
    )
    chunks = []
    for item in response.get("Items", []):
        seq = int(item["seq"]["N"])
        chunks.append({"seq": seq, "step_id": item["step_id"]["S"], "index": int(item["index"]["N"]),
                       "text": item["text"]["S"], "time_ns": seq // 1000})
    return chunks


def create_table(client: Any, table_name: str) -> None:
    """Create the deltas table (the local engine's emulated DynamoDB; deployed, the stack does it)."""
    client.create_table(
        TableName=table_name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "execution", "KeyType": "HASH"}, {"AttributeName": "seq", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "execution", "AttributeType": "S"},
                              {"AttributeName": "seq", "AttributeType": "N"}],
    )
