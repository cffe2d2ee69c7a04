"""Large step outputs go to S3 and travel by reference (Step Functions' payload limit is 256 KiB); SPEC §13.

A step output whose JSON is larger than ``STEPGRAPH_OFFLOAD_BYTES`` (default 252 KiB) is written
to ``s3://$PAYLOADS_BUCKET/payloads/<workflow>/<execution>/<step>-<digest>.json`` and replaced by::

    {"offloaded": {"s3_uri": "s3://...", "size_bytes": 812345, "sha256": "..."},
     "preview": "<first 1,000 characters of the JSON>"}

The next agent, tool or API step gets the whole value back (:func:`resolve` runs on its input
before anything else); a condition or transform reading a field inside it fails with a clear
error (the compiler's reference check). ``States.DataLimitExceeded`` cannot be caught by
``States.ALL`` — it would end an execution without a result record — so every value that travels
(a state's output, a step's variable, 256 KiB each) stays under the limit.

**References are followed only when they are this execution's own** (an execution input can
carry anything, including a reference someone forged): the object must be in the payloads
bucket, under ``payloads/<this workflow>/<this execution>/``, and its bytes must have the
``size_bytes`` and ``sha256`` the reference states. Anything else is ``VALIDATION_ERROR`` naming
the reference, and nothing is read outside that prefix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from . import env
from .errors import VALIDATION_ERROR

__all__ = ["DEFAULT_THRESHOLD", "PREFIX", "execution_prefix", "is_reference", "offload", "resolve", "threshold_bytes"]

#: Just under Step Functions' 256 KiB (262,144 bytes) per state and per variable, leaving 4 KiB
#: for the ``lambda:invoke`` result around the payload (status code, HTTP headers).
DEFAULT_THRESHOLD = 252 * 1024
PREVIEW_CHARS = 1_000
#: Every offloaded object lives under this key prefix of the payloads bucket.
PREFIX = "payloads/"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Workflow and execution names (Step Functions: ``[A-Za-z0-9_-]``, 1–80 characters).
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_s3: Any = None


def _client() -> Any:
    global _s3
    if _s3 is None:
        import boto3

        _s3 = boto3.client("s3")
    return _s3


def threshold_bytes() -> int:
    """Outputs above this many bytes of JSON are offloaded (``STEPGRAPH_OFFLOAD_BYTES``)."""
    return int(os.environ.get(env.OFFLOAD_BYTES, DEFAULT_THRESHOLD))


def is_reference(value: Any) -> bool:
    """True for an ``{"offloaded": {"s3_uri": ...}}`` reference."""
    return isinstance(value, dict) and isinstance(value.get("offloaded"), dict) and "s3_uri" in value["offloaded"]


def execution_prefix(workflow: str, execution: str) -> str:
    """``payloads/<workflow>/<execution>/``: where one execution's offloaded outputs live.

    Raises
    ------
    VALIDATION_ERROR
        When a name is empty or holds a character a state machine or execution name cannot
        (``/`` in particular, which would reach another prefix).
    """
    for what, name in (("workflow", workflow), ("execution", execution)):
        if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
            raise VALIDATION_ERROR(f"cannot offload for {what} name {name!r}: 1-80 characters of [A-Za-z0-9_.-]")
    return f"{PREFIX}{workflow}/{execution}/"


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
    bucket = os.environ.get(env.PAYLOADS_BUCKET)
    if not bucket:
        raise RuntimeError(f"step {step} produced {len(body)} bytes, more than Step Functions carries, "
                           f"and {env.PAYLOADS_BUCKET} is not set")
    digest = hashlib.sha256(body).hexdigest()
    key = f"{execution_prefix(workflow, execution)}{step}-{digest[:16]}.json"
    _client().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return {
        "offloaded": {"s3_uri": f"s3://{bucket}/{key}", "size_bytes": len(body), "sha256": digest},
        "preview": body[:PREVIEW_CHARS * 4].decode("utf-8", "ignore")[:PREVIEW_CHARS],
    }


def _refuse(reference: dict[str, Any], why: str, step: str | None) -> VALIDATION_ERROR:
    where = f"step {step}: " if step else ""
    return VALIDATION_ERROR(f"{where}offload reference {reference.get('s3_uri')!r} refused: {why}", step_id=step)


def _read(reference: dict[str, Any], *, bucket: str | None, prefix: str, step: str | None) -> Any:
    """The stored value of one reference, after every check of SPEC §13."""
    uri = reference.get("s3_uri")
    size, digest = reference.get("size_bytes"), reference.get("sha256")
    if not bucket:
        raise _refuse(reference, f"{env.PAYLOADS_BUCKET} is not set, so no reference can be followed", step)
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise _refuse(reference, "s3_uri is not an s3:// URI", step)
    uri_bucket, _, key = uri[len("s3://"):].partition("/")
    if uri_bucket != bucket:
        raise _refuse(reference, f"it is not in the payloads bucket {bucket}", step)
    if not key.startswith(prefix) or "/" in key[len(prefix):] or not key[len(prefix):]:
        raise _refuse(reference, f"it is not under this execution's prefix {prefix}", step)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _refuse(reference, f"size_bytes must be a whole number of bytes, got {size!r}", step)
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise _refuse(reference, "sha256 must be 64 lower-case hex digits", step)
    obj = _client().get_object(Bucket=bucket, Key=key)
    length = obj.get("ContentLength")
    if isinstance(length, int) and length != size:
        raise _refuse(reference, f"the object holds {length} bytes, the reference says {size}", step)
    body = obj["Body"].read(size + 1)
    if len(body) != size:
        raise _refuse(reference, f"the object holds {len(body) if len(body) <= size else 'more than ' + str(size)} "
                      f"bytes, the reference says {size}", step)
    if hashlib.sha256(body).hexdigest() != digest:
        raise _refuse(reference, "the object's sha256 differs from the reference's", step)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _refuse(reference, f"the object is not JSON ({exc})", step) from exc


def resolve(value: Any, *, workflow: str, execution: str, step: str | None = None) -> Any:
    """Replace every reference inside ``value`` (any JSON value) by the stored value, checking each.

    Parameters
    ----------
    value : Any
        A step's input (an agent payload, tool arguments, a request body).
    workflow, execution : str
        The running workflow and execution (the compiled state passes them): only references
        under ``payloads/<workflow>/<execution>/`` of ``PAYLOADS_BUCKET`` are followed.
    step : str, optional
        The step, named in errors.

    Returns
    -------
    Any
        ``value`` with each reference replaced.

    Raises
    ------
    VALIDATION_ERROR
        Naming the reference, when it points outside the payloads bucket or this execution's
        prefix, lacks ``size_bytes``/``sha256``, or the object's size or digest differ.
    """
    bucket = os.environ.get(env.PAYLOADS_BUCKET)
    prefix: str | None = None

    def walk(item: Any) -> Any:
        nonlocal prefix
        if is_reference(item):
            if prefix is None:
                prefix = execution_prefix(workflow, execution)
            return _read(item["offloaded"], bucket=bucket, prefix=prefix, step=step)
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)
