"""W3C trace context for an execution: the ``traceParent`` sent to AgentCore, from X-Ray or the execution ARN.

A deployed run is one trace when every hop carries the same trace id: Step Functions starts an
X-Ray trace and passes it to the invoker Lambda (``_X_AMZN_TRACE_ID``,
``Root=1-<8 hex time>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``), and the invoker hands it to the
agent as a W3C ``traceparent`` (``00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``,
https://www.w3.org/TR/trace-context/#traceparent-header). The X-Ray trace id *is* the W3C trace
id with the ``1-`` and the dash removed (AWS X-Ray developer guide, "Tracing header"; the same
mapping OpenTelemetry's AWS X-Ray propagator uses). Without an X-Ray header (locally, or with
tracing off), the trace id is derived from the execution ARN, so every step of one execution
still shares it.
"""

from __future__ import annotations

import hashlib
import os
import re

__all__ = [
    "XRAY_TRACE_ENV",
    "execution_traceparent",
    "trace_id_of",
    "traceparent_for_execution",
    "traceparent_from_xray",
]

#: The Lambda runtime's X-Ray tracing header (set by Lambda for each invocation when tracing is on).
XRAY_TRACE_ENV = "_X_AMZN_TRACE_ID"
_XRAY_ROOT = re.compile(r"(?:^|;)\s*Root=1-(?P<time>[0-9a-fA-F]{8})-(?P<rest>[0-9a-fA-F]{24})\s*(?:;|$)")
_XRAY_PARENT = re.compile(r"(?:^|;)\s*Parent=(?P<parent>[0-9a-fA-F]{16})\s*(?:;|$)")
_XRAY_SAMPLED = re.compile(r"(?:^|;)\s*Sampled=(?P<sampled>[01?])\s*(?:;|$)")
_TRACEPARENT = re.compile(r"^00-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})$")


def _nonzero(hex_text: str, fallback: str) -> str:
    """W3C forbids an all-zero trace or parent id."""
    return fallback if set(hex_text) == {"0"} else hex_text


def traceparent_for_execution(execution_arn: str) -> str:
    """A ``traceparent`` derived from an execution ARN alone: the same for every step of the execution.

    Trace id: the first 32 hex digits of ``sha256(execution_arn)``; parent id: the next 16;
    flags ``01`` (sampled).

    Examples
    --------
    >>> tp = traceparent_for_execution("arn:aws:states:us-east-1:123456789012:execution:flow:run-1")
    >>> tp == traceparent_for_execution("arn:aws:states:us-east-1:123456789012:execution:flow:run-1")
    True
    >>> len(tp), tp[:3]
    (55, '00-')
    """
    digest = hashlib.sha256(execution_arn.encode("utf-8")).hexdigest()
    return f"00-{_nonzero(digest[:32], '1' * 32)}-{_nonzero(digest[32:48], '1' * 16)}-01"


def traceparent_from_xray(header: str | None, *, parent_fallback: str | None = None) -> str | None:
    """The W3C ``traceparent`` of an X-Ray tracing header, or ``None`` when it has no valid ``Root``.

    Parameters
    ----------
    header : str or None
        ``Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1``.
    parent_fallback : str, optional
        16 hex digits used when the header has no ``Parent``. Default: the trace id's last 16.

    Examples
    --------
    >>> traceparent_from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01'
    >>> traceparent_from_xray("Parent=53995c3f42cd8ad8") is None
    True
    """
    if not header:
        return None
    root = _XRAY_ROOT.search(header)
    if root is None:
        return None
    trace_id = (root.group("time") + root.group("rest")).lower()
    parent = _XRAY_PARENT.search(header)
    parent_id = parent.group("parent").lower() if parent else (parent_fallback or trace_id[16:])
    sampled = _XRAY_SAMPLED.search(header)
    flags = "00" if sampled is not None and sampled.group("sampled") == "0" else "01"
    return f"00-{_nonzero(trace_id, '1' * 32)}-{_nonzero(parent_id, '1' * 16)}-{flags}"


def execution_traceparent(execution_arn: str | None) -> str | None:
    """The ``traceparent`` to send for an execution: from ``_X_AMZN_TRACE_ID`` when set, else from the ARN.

    ``None`` when neither is known.
    """
    from_xray = traceparent_from_xray(os.environ.get(XRAY_TRACE_ENV))
    if from_xray is not None:
        return from_xray
    return traceparent_for_execution(execution_arn) if execution_arn else None


def trace_id_of(traceparent: str | None) -> str | None:
    """The 32-hex-digit trace id of a ``traceparent`` (``None`` when it is not one).

    Examples
    --------
    >>> trace_id_of("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
    '5759e988bd862e3fe1be46a994272793'
    """
    match = _TRACEPARENT.match(traceparent or "")
    return match.group("trace") if match else None
