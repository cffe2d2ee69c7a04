"""The approvals decider: the one function that reads task tokens and resumes executions (deployed).

The HTTP API function authenticates the caller and invokes this function with the verified
identity; only the API function may invoke it (its role is the only principal granted
``lambda:InvokeFunction`` on it), and only this function may read an approval's task token and
call ``states:SendTaskSuccess``/``SendTaskFailure`` (SPEC §14). The rules themselves (listed
approver, still pending, not expired) are :meth:`stepgraph.approvals.ApprovalStore.decide`'s.

Event: ``{"action": "decide", "approval_id", "decision", "comment", "identity": {"subject", "method"}}``
or ``{"action": "cancel", "execution_arn"}``. Errors are raised under the approval error's class
name (Lambda's ``errorType``), which :func:`raise_decider_error` turns back into that exception.
"""

from __future__ import annotations

import os
from typing import Any

from .. import approvals as _approvals
from ..identity import VerifiedIdentity

__all__ = ["handle", "lambda_handler", "raise_decider_error"]

_ERRORS = {cls.__name__: cls for cls in (
    _approvals.ApprovalNotFoundError, _approvals.NotAnApproverError, _approvals.ApprovalClosedError,
    _approvals.ApprovalExpiredError,
)}


def handle(event: dict[str, Any], store: _approvals.ApprovalStore) -> Any:
    """Carry out one decider event against ``store``.

    Returns
    -------
    dict or list
        ``decide``: the decided request (public attributes); ``cancel``: the ids cancelled.

    Raises
    ------
    ValueError
        For an unknown action or a malformed identity.
    ApprovalError
        As raised by :meth:`~stepgraph.approvals.ApprovalStore.decide`.
    """
    action = event.get("action")
    if action == "decide":
        raw = event.get("identity") or {}
        identity = VerifiedIdentity(str(raw.get("subject", "")), str(raw.get("method", "")))
        decided = store.decide(str(event["approval_id"]), str(event["decision"]), identity=identity,
                               comment=str(event.get("comment") or ""))
        return decided.to_dict()
    if action == "cancel":
        return store.cancel_pending(str(event["execution_arn"]))
    raise ValueError(f"unknown decider action {action!r}")


def raise_decider_error(answer: Any) -> None:
    """Re-raise the approval error a failed decider invocation reported.

    Raises
    ------
    ApprovalError
        The subclass named by ``errorType``.
    RuntimeError
        For any other failure.
    """
    error_type = answer.get("errorType") if isinstance(answer, dict) else None
    message = answer.get("errorMessage", "approval decider failed") if isinstance(answer, dict) else "approval decider failed"
    if error_type in _ERRORS:
        raise _ERRORS[error_type](message)
    if error_type == "ValueError":
        raise ValueError(message)
    raise RuntimeError(f"approval decider failed: {error_type}: {message}")


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """Lambda entry point (``APPROVALS_TABLE_NAME`` names the table)."""
    store = _approvals.ApprovalStore(os.environ["APPROVALS_TABLE_NAME"])
    return handle(event, store)
