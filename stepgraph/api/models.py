"""Request and response bodies of the HTTP API (pydantic models; they are the OpenAPI document's schemas)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApprovalView",
    "ApprovalList",
    "DecisionRequest",
    "ErrorBody",
    "ExecuteRequest",
    "ExecuteResponse",
    "ExecutionList",
    "ExecutionStatus",
    "ExecutionView",
    "StepView",
    "WorkflowDocument",
    "WorkflowList",
    "WorkflowSummary",
    "WorkflowView",
    "STATUSES",
]

#: The seven execution statuses of SPEC §7.
ExecutionStatus = Literal["pending", "running", "waiting", "completed", "failed", "cancelled", "timeout"]
STATUSES: tuple[str, ...] = ("pending", "running", "waiting", "completed", "failed", "cancelled", "timeout")
StepStatus = Literal["running", "waiting", "completed", "failed"]


class ErrorBody(BaseModel):
    """Every error: ``{"code", "message", "details"}``."""

    code: str = Field(description="VALIDATION_ERROR, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE …")
    message: str
    details: Any = Field(default=None, description="For VALIDATION_ERROR: every problem, as [{path, message, step?}]")


# --------------------------------------------------------------------------- workflows


class RetryDocument(BaseModel):
    """A step's ``retry`` (SPEC §3)."""

    model_config = ConfigDict(extra="allow")
    max_attempts: int
    backoff_seconds: float = 0
    backoff_rate: float = 2.0


class StepDocument(BaseModel):
    """One step of a workflow document (SPEC §3); its parameters are checked by validation."""

    model_config = ConfigDict(extra="allow")
    step_id: str
    step_type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    next_steps: list[str] = Field(default_factory=list)
    else_steps: Optional[list[str]] = None
    retry: Optional[RetryDocument] = None
    timeout_seconds: Optional[int] = None


class WorkflowDocument(BaseModel):
    """A workflow document (SPEC §3), as in ``workflows/*.json``. At most 1 MiB."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(description="1-64 of [A-Za-z0-9_-], unique in the app")
    description: str = ""
    steps: list[StepDocument]
    on_complete: list[dict[str, Any]] = Field(default_factory=list)


class WorkflowSummary(BaseModel):
    """A workflow the API can execute."""

    workflow_id: str = Field(description="The workflow's name")
    name: str
    description: str
    step_count: int
    source: Literal["project", "api"] = Field(description="project: workflows/ of the deployment; api: created by POST /api/workflows")
    state_machine_arn: str


class WorkflowView(WorkflowSummary):
    """A workflow with its document and the Amazon States Language it compiled to."""

    document: dict[str, Any]
    definition: dict[str, Any] = Field(description="The compiled state machine (Amazon States Language)")
    example_input: Optional[dict[str, Any]] = Field(
        None, description="examples/<workflow>.input.json of the project, when there is one (the console prefills its editor with it)")


class WorkflowList(BaseModel):
    """``GET /api/workflows``."""

    workflows: list[WorkflowSummary]


# --------------------------------------------------------------------------- executions


class ChatMessage(BaseModel):
    """One earlier turn of a chat."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: Any = None


class TriggerInput(BaseModel):
    """What started the run (the seed's ``trigger``)."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["chat", "api", "schedule", "webhook"] = "api"
    current_message: Optional[str] = None
    history: Optional[list[ChatMessage]] = None


class ExecuteRequest(BaseModel):
    """The seed's execute body, which becomes the execution input (SPEC §5). At most 256 KiB.

    Every field is optional; other top-level keys are passed through unchanged.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "trigger": {"kind": "chat", "current_message": "I need help with my order", "history": []},
        "user_id": "user-42", "session_id": "chat-session-7f3a9c21", "context": {"customer_id": "cust-1001"}}})
    trigger: Optional[TriggerInput] = None
    user_id: Optional[str] = Field(default=None, max_length=256)
    session_id: Optional[str] = Field(default=None, min_length=1, max_length=256)
    context: Optional[dict[str, Any]] = None


class ExecuteResponse(BaseModel):
    """``POST /api/workflows/{id}/execute``."""

    execution_id: str = Field(description="'<workflow>:<execution name>'; use it in /api/executions/{id}")
    workflow_id: str
    status: ExecutionStatus
    started_at: str


class StepView(BaseModel):
    """One step of an execution, from the execution history."""

    step_id: str
    status: StepStatus
    started_at: Optional[str] = None
    completed_at: Optional[str] = None
    result: Any = None
    error: Optional[dict[str, Any]] = None
    attempts: int = Field(default=1, description="Times the step was entered (loops enter a body step once per item)")


class ExecutionSummary(BaseModel):
    """One execution in a list."""

    execution_id: str
    workflow_id: str
    status: ExecutionStatus
    started_at: str
    completed_at: Optional[str] = None


class ExecutionView(ExecutionSummary):
    """``GET /api/executions/{id}``: built from Step Functions' own history, no second store."""

    execution_arn: str
    steps: list[StepView]
    result: Any = None
    error: Optional[dict[str, Any]] = None


class ExecutionList(BaseModel):
    """``GET /api/executions``: newest first; pass ``next_token`` back for the next page."""

    executions: list[ExecutionSummary]
    next_token: Optional[str] = None


# --------------------------------------------------------------------------- approvals


class ApprovalView(BaseModel):
    """An approval request (its task token never leaves the approvals table)."""

    approval_id: str
    status: Literal["pending", "approved", "rejected", "expired", "cancelled"]
    workflow_id: str
    execution_id: str
    step_id: str
    approvers: list[str]
    message: str
    requested_at: str
    expires_at: str
    decision: Optional[str] = None
    comment: Optional[str] = None
    approver: Optional[str] = None
    approver_verified_by: Optional[str] = None
    decided_at: Optional[str] = None


class IdentityView(BaseModel):
    """``GET /api/me``: who the API verified the caller to be."""

    subject: str = Field(description="The identity approvals compare with their approvers (an e-mail address or user name)")
    method: str = Field(description="How it was verified: token (stepgraph serve) or cognito")


class ApprovalList(BaseModel):
    """``GET /api/approvals``."""

    approvals: list[ApprovalView]


class DecisionRequest(BaseModel):
    """``POST /api/approvals/{id}``: the decider is the caller's verified identity, never a field."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["approved", "rejected"]
    comment: str = Field(default="", max_length=4000)
