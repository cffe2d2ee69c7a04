"""Large step outputs go to S3 and travel by reference (Step Functions' payload limit is 256 KiB).

Shared by the Lambda handlers: deployed, this file sits beside each ``handler.py``; locally the
handlers find it in ``lambdas/shared/``.

A step output whose JSON is larger than ``STEPGRAPH_OFFLOAD_BYTES`` (default 252 KiB) is written
to ``s3://$PAYLOADS_BUCKET/payloads/<workflow>/<execution>/<step>.json`` and replaced by::

    {"offloaded": {"s3_uri": "s3://...", "size_bytes": 812345, "sha256": "..."},
     "preview": "<first 1,000 characters of the JSON>"}

The next agent, tool or API step gets the whole value back (:func:`resolve` runs on its input
before anything else); a condition or transform that reads a field inside it fails with a clear
error (the compiler's reference check). States.DataLimitExceeded cannot be caught by
``States.ALL`` — it would end an execution without a result record — so every value that
travels (a state's output, a variable) stays under the limit.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

__all__ = ["offload", "resolve", "threshold_bytes", "is_reference"]

#: Just under Step Functions' 256 KiB (262,144 bytes) per state and per variable, leaving 4 KiB
#: for the ``lambda:invoke`` result around the payload (status code, HTTP headers).
DEFAULT_THRESHOLD = 252 * 1024
PREVIEW_CHARS = 1_000
_s3: Any = None


def _client() -> Any:
    global _s3
    if _s3 is None:
        import boto3

        _s3 = boto3.client("s3")
    return _s3


def threshold_bytes() -> int:
    """Outputs above this many bytes of JSON are offloaded (``STEPGRAPH_OFFLOAD_BYTES``)."""
    return int(os.environ.get("STEPGRAPH_OFFLOAD_BYTES", DEFAULT_THRESHOLD))


def is_reference(value: Any) -> bool:
    """True for an ``{"offloaded": {"s3_uri": ...}}`` reference."""
    return isinstance(value, dict) and isinstance(value.get("offloaded"), dict) and "s3_uri" in value["offloaded"]


def offload(value: Any, *, workflow: str, execution: str, step: str) -> Any:
    """Return ``value``, or a reference to it in S3 when its JSON exceeds the threshold.

    Raises
    ------
    RuntimeError
        When the output is too large and ``PAYLOADS_BUCKET`` is not set.
    """
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(body) <= threshold_bytes():
        return value
    bucket = os.environ.get("PAYLOADS_BUCKET")
    if not bucket:
        raise RuntimeError(f"step {step} produced {len(body)} bytes, more than Step Functions carries, and PAYLOADS_BUCKET is not set")
    digest = hashlib.sha256(body).hexdigest()
    key = f"payloads/{workflow}/{execution}/{step}-{digest[:16]}.json"
    _client().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return {
        "offloaded": {"s3_uri": f"s3://{bucket}/{key}", "size_bytes": len(body), "sha256": digest},
        "preview": body[:PREVIEW_CHARS * 4].decode("utf-8", "ignore")[:PREVIEW_CHARS],
    }


def resolve(value: Any) -> Any:
    """Replace every reference inside ``value`` (any JSON value) by the stored value."""
    if is_reference(value):
        bucket, _, key = value["offloaded"]["s3_uri"][len("s3://"):].partition("/")
        return json.loads(_client().get_object(Bucket=bucket, Key=key)["Body"].read())
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value
