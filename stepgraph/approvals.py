"""Deciding human approvals: list the open requests, approve or reject one (SPEC §3 ``human_approval``).

A ``human_approval`` step stores its request, task token included, in the approvals table
(``lambdas/approval``) and waits. :class:`ApprovalStore` reads that table and resumes the
execution with ``SendTaskSuccess`` once it has checked that the request is still open, not
expired, and that the person deciding is one of its approvers. Approve continues with the step's
``next_steps``; reject with its ``else_steps`` or, without them, fails the execution with
``APPROVAL_REJECTED``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .exceptions import StepgraphError
from .identity import VerifiedIdentity

__all__ = [
    "Approval",
    "ApprovalStore",
    "ApprovalError",
    "ApprovalNotFoundError",
    "NotAnApproverError",
    "ApprovalClosedError",
    "ApprovalExpiredError",
    "DECISIONS",
    "PUBLIC_ATTRIBUTES",
]

DECISIONS = ("approved", "rejected")

#: Every attribute of a request but its task token. Listing and reading go through this
#: projection, so a principal allowed only these attributes (the deployed HTTP API, through the
#: ``dynamodb:Attributes`` condition) can list requests; deciding reads the token and is done by
#: the approvals decider function alone.
PUBLIC_ATTRIBUTES = ("approval_id", "status", "workflow_name", "execution_arn", "execution_name", "step_id",
                     "approvers", "message", "requested_at", "expires_at", "decision", "comment", "approver",
                     "decided_at", "approver_verified_by")
_PUBLIC_PROJECTION = {
    "ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(PUBLIC_ATTRIBUTES))),
    "ExpressionAttributeNames": {f"#p{i}": name for i, name in enumerate(PUBLIC_ATTRIBUTES)},
}


class ApprovalError(StepgraphError):
    """Base class of approval errors."""


class ApprovalNotFoundError(ApprovalError):
    """No approval request has that id."""


class NotAnApproverError(ApprovalError):
    """The person deciding is not listed in the step's ``approvers``."""


class ApprovalClosedError(ApprovalError):
    """The request was already decided."""


class ApprovalExpiredError(ApprovalError):
    """The request passed its ``timeout_hours``; the execution already failed with ``TIMEOUT``."""


@dataclass(frozen=True)
class Approval:
    """One approval request, as stored (the task token is kept out of this object).

    Times are ISO-8601 strings in UTC.
    """

    approval_id: str
    status: str
    workflow_name: str
    execution_arn: str
    execution_name: str
    step_id: str
    approvers: tuple[str, ...]
    message: str
    requested_at: str
    expires_at: str
    decision: str | None = None
    comment: str | None = None
    approver: str | None = None
    decided_at: str | None = None
    approver_verified_by: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Approval":
        return cls(
            approval_id=item["approval_id"], status=item["status"], workflow_name=item["workflow_name"],
            execution_arn=item["execution_arn"], execution_name=item.get("execution_name", ""),
            step_id=item["step_id"], approvers=tuple(item.get("approvers", ())), message=item.get("message", ""),
            requested_at=item["requested_at"], expires_at=item["expires_at"], decision=item.get("decision"),
            comment=item.get("comment"), approver=item.get("approver"), decided_at=item.get("decided_at"),
            approver_verified_by=item.get("approver_verified_by"),
        )

    def is_expired(self, now: datetime | None = None) -> bool:
        """True when ``expires_at`` has passed."""
        now = now or datetime.now(timezone.utc)
        return datetime.fromisoformat(self.expires_at) <= now

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json`` and the API)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class ApprovalStore:
    """Approval requests of one deployment (or of the local engine).

    Parameters
    ----------
    table_name:
        The approvals DynamoDB table (stack output ``ApprovalsTableName``).
    dynamodb, stepfunctions:
        boto3 clients; default ones are created from the environment's credentials.

    Examples
    --------
    >>> store = ApprovalStore("Stepgraph-Approvals")  # doctest: +SKIP
    >>> [a.approval_id for a in store.list()]
    ['3f1c0d...']
    >>> store.decide("3f1c0d...", "approved", identity=VerifiedIdentity("ops@example.com", "token"), comment="ok")
    """

    table_name: str
    dynamodb: Any = None
    stepfunctions: Any = None
    _now: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import boto3

        self.dynamodb = self.dynamodb or boto3.client("dynamodb")
        self.stepfunctions = self.stepfunctions or boto3.client("stepfunctions")

    def _time(self) -> datetime:
        return self._now() if self._now else datetime.now(timezone.utc)

    def _items(self, **kwargs: Any) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        items: list[dict[str, Any]] = []
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table_name, **_PUBLIC_PROJECTION, **kwargs):
            items += [{k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"]]
        return items

    def list(self, status: str | None = "pending", *, execution_arn: str | None = None) -> list[Approval]:
        """Approval requests, oldest first.

        Parameters
        ----------
        status:
            ``pending`` (default; expired ones excluded), ``approved``, ``rejected``, ``expired``, ``cancelled``
            or ``None`` for all.
        execution_arn:
            Only the requests of this execution.
        """
        approvals = [Approval.from_item(i) for i in self._items()]
        now = self._time()
        if execution_arn:
            approvals = [a for a in approvals if a.execution_arn == execution_arn]
        if status == "pending":
            approvals = [a for a in approvals if a.status == "pending" and not a.is_expired(now)]
        elif status == "expired":
            approvals = [a for a in approvals if a.status == "expired" or (a.status == "pending" and a.is_expired(now))]
        elif status is not None:
            approvals = [a for a in approvals if a.status == status]
        return sorted(approvals, key=lambda a: a.requested_at)

    def _get_item(self, approval_id: str, *, public: bool = False) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        projection = _PUBLIC_PROJECTION if public else {}
        response = self.dynamodb.get_item(TableName=self.table_name, Key={"approval_id": {"S": approval_id}},
                                          ConsistentRead=True, **projection)
        if "Item" not in response:
            raise ApprovalNotFoundError(f"no approval request {approval_id!r} in table {self.table_name}")
        deserializer = TypeDeserializer()
        return {k: deserializer.deserialize(v) for k, v in response["Item"].items()}

    def get(self, approval_id: str) -> Approval:
        """One approval request (read without its task token).

        Raises
        ------
        ApprovalNotFoundError
        """
        return Approval.from_item(self._get_item(approval_id, public=True))

    def decide(self, approval_id: str, decision: str, *, identity: VerifiedIdentity, comment: str = "") -> Approval:
        """Approve or reject a request and resume its execution.

        Parameters
        ----------
        approval_id:
            The request's id.
        decision:
            ``"approved"`` or ``"rejected"``.
        identity:
            Who decides, as verified by an authentication mechanism (an API token, Cognito);
            its ``subject`` must be listed in the step's ``approvers``. Never a name the caller
            merely claims: there is no parameter for one.
        comment:
            Free text, passed to the workflow as ``comment``.

        Returns
        -------
        Approval
            The request as decided.

        Raises
        ------
        ValueError
            For a decision other than approved/rejected.
        TypeError
            When ``identity`` is not a :class:`~stepgraph.identity.VerifiedIdentity`.
        ApprovalNotFoundError, NotAnApproverError, ApprovalClosedError, ApprovalExpiredError
        """
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
        if not isinstance(identity, VerifiedIdentity):
            raise TypeError("approvals are decided by a VerifiedIdentity, not by a name")
        approver = identity.subject
        item = self._get_item(approval_id)
        approval = Approval.from_item(item)
        if approver not in approval.approvers:
            raise NotAnApproverError(f"{approver!r} is not an approver of {approval_id} (approvers: {', '.join(approval.approvers)})")
        if approval.status != "pending":
            raise ApprovalClosedError(f"approval {approval_id} is already {approval.status}")
        now = self._time()
        if approval.is_expired(now):
            raise ApprovalExpiredError(f"approval {approval_id} expired at {approval.expires_at}; the execution failed with TIMEOUT")
        decided_at = now.isoformat()
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"approval_id": {"S": approval_id}},
                UpdateExpression="SET #s = :d, decision = :d, approver = :a, approver_verified_by = :m, #c = :c, decided_at = :t",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status", "#c": "comment"},
                ExpressionAttributeValues={":d": {"S": decision}, ":a": {"S": approver}, ":m": {"S": identity.method}, ":c": {"S": comment},
                                           ":t": {"S": decided_at}, ":pending": {"S": "pending"}},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException as exc:
            raise ApprovalClosedError(f"approval {approval_id} was decided by someone else meanwhile") from exc
        output = {"decision": decision, "comment": comment, "approver": approver, "decided_at": decided_at}
        try:
            self.stepfunctions.send_task_success(taskToken=item["task_token"], output=json.dumps(output))
        except (self.stepfunctions.exceptions.TaskTimedOut, self.stepfunctions.exceptions.InvalidToken) as exc:
            self.dynamodb.update_item(
                TableName=self.table_name, Key={"approval_id": {"S": approval_id}},
                UpdateExpression="SET #s = :e", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":e": {"S": "expired"}},
            )
            raise ApprovalExpiredError(f"approval {approval_id} can no longer resume its execution: {exc}") from exc
        return self.get(approval_id)

    def cancel_pending(self, execution_arn: str) -> list[str]:
        """Mark the pending requests of a stopped execution ``cancelled`` (a later decision gets 409).

        Parameters
        ----------
        execution_arn:
            The execution that was stopped.

        Returns
        -------
        list of str
            The ids of the requests cancelled.
        """
        cancelled: list[str] = []
        for approval in self.list("pending", execution_arn=execution_arn):
            try:
                self.dynamodb.update_item(
                    TableName=self.table_name, Key={"approval_id": {"S": approval.approval_id}},
                    UpdateExpression="SET #s = :c", ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":c": {"S": "cancelled"}, ":pending": {"S": "pending"}},
                )
                cancelled.append(approval.approval_id)
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                continue  # decided meanwhile
        return cancelled
