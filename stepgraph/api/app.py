"""The execution HTTP API (SPEC §9): one FastAPI application for ``stepgraph serve`` and for AWS.

Locally uvicorn serves it on 127.0.0.1 over the local engine; deployed, the Lambda Web Adapter
runs the same application behind API Gateway (``stacks/api_stack.py``). What differs is the
:class:`~stepgraph.api.backend.Backend` and the :class:`~stepgraph.api.auth.Authenticator`.
"""

from __future__ import annotations

import base64
import heapq
import json
import uuid
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Mapping, Optional

import anyio
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.security import HTTPBearer
from sse_starlette import EventSourceResponse, ServerSentEvent

from .. import approvals as approval_errors
from ..exceptions import WorkflowValidationError
from ..identity import VerifiedIdentity
from .auth import Authenticator
from ..render_svg import to_svg
from .backend import Backend, CatalogEntry, WorkflowExistsError, example_input, validate_document
from .console import install_console
from .errors import ApiError, error_response, install_error_handlers
from .models import (
    STATUSES,
    ApprovalList,
    ApprovalView,
    DecisionRequest,
    ErrorBody,
    ExecuteRequest,
    ExecuteResponse,
    ExecutionList,
    ExecutionSummary,
    ExecutionView,
    IdentityView,
    WorkflowDocument,
    WorkflowList,
    WorkflowSummary,
    WorkflowView,
)
from .views import ExecutionTracker, StreamCursor, api_status, execution_id, fetch_history, iso, split_execution_id

__all__ = ["create_app", "BODY_LIMITS", "DEFAULT_HEARTBEAT_SECONDS"]

#: Largest request body per route, in bytes (SPEC §9, §13): workflow documents 1 MiB, execute
#: bodies 256 KiB (Step Functions' input limit), anything else 64 KiB.
BODY_LIMITS = {"workflows": 1024 * 1024, "execute": 256 * 1024, "other": 64 * 1024}
#: Seconds between ``heartbeat`` events of an open stream (SPEC §9).
DEFAULT_HEARTBEAT_SECONDS = 30.0
_LIST_SCAN_LIMIT = 1000
_ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413)}


def _body_limit(method: str, path: str) -> int:
    if method == "POST" and path.rstrip("/") == "/api/workflows":
        return BODY_LIMITS["workflows"]
    if method == "POST" and path.endswith("/execute"):
        return BODY_LIMITS["execute"]
    return BODY_LIMITS["other"]


class _GuardMiddleware:
    """Authenticates every ``/api`` request and bounds its body before the application sees it.

    Anonymous callers get 401 whatever they send; a body over the route's limit gets 413 and
    is never parsed. The verified identity lands in ``request.state.identity``.
    """

    def __init__(self, app: Any, authenticator: Authenticator):
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            identity = self.authenticator.authenticate(request)
        except ApiError as exc:
            await error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = identity
        limit = _body_limit(scope["method"], scope["path"])
        declared = request.headers.get("content-length")
        too_large = error_response(413, "PAYLOAD_TOO_LARGE", f"request body over {limit} bytes", {"limit_bytes": limit})
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await too_large(scope, receive, send)
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


_bearer = HTTPBearer(auto_error=False, description="A token of STEPGRAPH_API_TOKENS (local) or a Cognito ID token (AWS)")


def _identity(request: Request, _: Any = Depends(_bearer)) -> VerifiedIdentity:
    identity = getattr(request.state, "identity", None)
    if not isinstance(identity, VerifiedIdentity):  # pragma: no cover - the middleware always sets it
        raise ApiError(401, "UNAUTHENTICATED", "authentication required")
    return identity


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def create_app(backend: Backend, authenticator: Authenticator, *, heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
               title: str = "stepgraph execution API", console_auth: Optional[Mapping[str, Any]] = None) -> FastAPI:
    """Build the API application.

    Parameters
    ----------
    backend:
        Step Functions, workflows, approvals and deltas (:func:`~stepgraph.api.backend.local_backend`
        or :func:`~stepgraph.api.backend.aws_backend`).
    authenticator:
        Turns each request into a verified identity (tokens locally, Cognito claims on AWS).
    heartbeat_seconds:
        Seconds between ``heartbeat`` events of a stream. Default 30 (SPEC §9).
    title:
        The OpenAPI document's title.
    console_auth:
        How the web console at ``/`` signs in (:mod:`stepgraph.api.console`): default a pasted
        token (``stepgraph serve``); deployed, the Cognito hosted UI's settings.

    Returns
    -------
    fastapi.FastAPI
        The application; its OpenAPI document is ``docs/openapi.json``.
    """
    app = FastAPI(title=title, version="1.0.0", description=(
        "Create workflows, execute them, follow them live over Server-Sent Events, decide human approvals "
        "(SPEC §9). Every /api route needs a bearer token; errors are {code, message, details}."),
        dependencies=[], responses=_ERRORS)
    install_error_handlers(app)
    install_console(app, console_auth)
    app.add_middleware(_GuardMiddleware, authenticator=authenticator)
    sfn = backend.stepfunctions
    catalog = backend.catalog

    # ------------------------------------------------------------------ helpers

    def entry_or_404(workflow_id: str) -> CatalogEntry:
        entry = catalog.get(workflow_id)
        if entry is None:
            raise ApiError(404, "NOT_FOUND", f"no workflow '{workflow_id}'", {"known": catalog.names()})
        return entry

    def summary(entry: CatalogEntry) -> dict[str, Any]:
        return {"workflow_id": entry.workflow.name, "name": entry.workflow.name, "description": entry.workflow.description,
                "step_count": len(entry.workflow.steps), "source": entry.source, "state_machine_arn": entry.state_machine_arn}

    def execution_arn(entry: CatalogEntry, name: str) -> str:
        return entry.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name

    def resolve(execution_id_: str) -> tuple[CatalogEntry, str, dict[str, Any]]:
        parts = split_execution_id(execution_id_)
        if parts is None:
            raise ApiError(404, "NOT_FOUND", f"'{execution_id_}' is not an execution id (<workflow>:<execution name>)")
        entry = catalog.get(parts[0])
        if entry is None:
            raise ApiError(404, "NOT_FOUND", f"no workflow '{parts[0]}'")
        arn = execution_arn(entry, parts[1])
        try:
            description = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist as exc:
            raise ApiError(404, "NOT_FOUND", f"no execution '{execution_id_}'") from exc
        return entry, arn, description

    def tracked(entry: CatalogEntry, arn: str) -> ExecutionTracker:
        tracker = ExecutionTracker(entry.workflow)
        tracker.feed_all(fetch_history(sfn, arn))
        return tracker

    def view(entry: CatalogEntry, arn: str, description: dict[str, Any]) -> dict[str, Any]:
        tracker = tracked(entry, arn)
        status = tracker.status(description["status"])
        error = tracker.error
        if error is None and description["status"] not in ("RUNNING", "SUCCEEDED"):
            error = {"code": description.get("error"), "message": description.get("cause"), "step": None}
        return {"execution_id": execution_id(entry.workflow.name, description["name"]), "workflow_id": entry.workflow.name,
                "execution_arn": arn, "status": status, "started_at": iso(description["startDate"]),
                "completed_at": iso(description.get("stopDate")), "steps": tracker.step_views(),
                "result": tracker.result, "error": error}

    def approvals_or_404() -> Any:
        if backend.approvals is None:
            raise ApiError(404, "NOT_FOUND", "this deployment has no approvals (no workflow has a human_approval step)")
        return backend.approvals

    def approval_view(approval: Any) -> dict[str, Any]:
        status = approval.status
        if status == "pending" and approval.is_expired():
            status = "expired"
        return {"approval_id": approval.approval_id, "status": status, "workflow_id": approval.workflow_name,
                "execution_id": execution_id(approval.workflow_name, approval.execution_name), "step_id": approval.step_id,
                "approvers": list(approval.approvers), "message": approval.message, "requested_at": approval.requested_at,
                "expires_at": approval.expires_at, "decision": approval.decision, "comment": approval.comment,
                "approver": approval.approver, "approver_verified_by": approval.approver_verified_by,
                "decided_at": approval.decided_at}

    # ------------------------------------------------------------------ routes

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/me", response_model=IdentityView, tags=["identity"], summary="The caller's verified identity")
    def me(identity: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        return {"subject": identity.subject, "method": identity.method}

    @app.get("/api/workflows", response_model=WorkflowList, tags=["workflows"], summary="List the workflows")
    def list_workflows(_: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        entries = [catalog.get(name) for name in catalog.names()]
        return {"workflows": [summary(e) for e in entries if e is not None]}

    @app.post("/api/workflows", response_model=WorkflowView, status_code=201, tags=["workflows"],
              summary="Validate a workflow document, compile it and create its state machine",
              responses={501: {"model": ErrorBody, "description": "Deployed: valid, but state machines are created by cdk deploy"}})
    async def create_workflow(document: WorkflowDocument, request: Request,
                              _: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        raw = await request.json()

        def create() -> dict[str, Any]:
            try:
                workflow = validate_document(raw, catalog)
            except WorkflowValidationError as exc:
                problems = [{"path": i.path, "step": i.step_id, "message": i.message} for i in exc.issues]
                raise ApiError(400, "VALIDATION_ERROR", f"invalid workflow for {len(problems)} reason(s); nothing was created",
                               problems) from exc
            try:
                entry = catalog.create(workflow, raw)
            except WorkflowExistsError as exc:
                raise ApiError(409, "CONFLICT", str(exc)) from exc
            except NotImplementedError as exc:  # the deployed catalog: state machines belong to CloudFormation
                raise ApiError(501, "NOT_SUPPORTED", str(exc)) from exc
            return {**summary(entry), "document": entry.document, "definition": entry.compiled.definition}

        return await anyio.to_thread.run_sync(create)

    @app.get("/api/workflows/{workflow_id}", response_model=WorkflowView, tags=["workflows"], summary="One workflow")
    def get_workflow(workflow_id: str, _: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        entry = entry_or_404(workflow_id)
        return {**summary(entry), "document": entry.document, "definition": entry.compiled.definition,
                "example_input": example_input(backend.examples_root, workflow_id)}

    @app.get("/api/workflows/{workflow_id}/graph.svg", tags=["workflows"], response_class=Response,
             summary="The workflow's graph as SVG (laid out in Python: no Graphviz needed)",
             responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}},
                              "description": "One <g class=\"node\" data-step-id=\"<step id>\"> per step"}})
    def workflow_graph(workflow_id: str, _: VerifiedIdentity = Depends(_identity)) -> Response:
        entry = entry_or_404(workflow_id)
        return Response(to_svg(entry.workflow), media_type="image/svg+xml",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    @app.post("/api/workflows/{workflow_id}/execute", response_model=ExecuteResponse, status_code=202, tags=["executions"],
              summary="Start an execution with the seed's execute body as its input")
    async def execute(workflow_id: str, body: ExecuteRequest, request: Request,
                      _: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        raw = await request.json()

        def start() -> dict[str, Any]:
            entry = entry_or_404(workflow_id)
            name = f"{backend.execution_prefix}-{uuid.uuid4().hex}"
            started = sfn.start_execution(stateMachineArn=entry.state_machine_arn, name=name, input=json.dumps(raw))
            started_at = started.get("startDate")
            return {"execution_id": execution_id(workflow_id, name), "workflow_id": workflow_id,
                    "status": api_status("RUNNING", state_entered=False),
                    "started_at": iso(started_at) if isinstance(started_at, datetime) else _now()}

        return await anyio.to_thread.run_sync(start)

    @app.get("/api/executions", response_model=ExecutionList, tags=["executions"], summary="List executions, newest first")
    def list_executions(workflow_id: Optional[str] = Query(None, description="Only this workflow's executions"),
                        status: Optional[str] = Query(None, description=f"One of {', '.join(STATUSES)}"),
                        limit: int = Query(20, ge=1, le=100),
                        next_token: Optional[str] = Query(None, description="From the previous page"),
                        _: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise ApiError(400, "VALIDATION_ERROR", f"status must be one of {', '.join(STATUSES)}",
                           [{"path": "status", "message": f"unknown status {status!r}"}])
        before = _decode_token(next_token) if next_token else None
        entries = [entry_or_404(workflow_id)] if workflow_id else [e for e in map(catalog.get, catalog.names()) if e]
        sfn_filter = {"completed": "SUCCEEDED", "pending": "RUNNING", "running": "RUNNING", "waiting": "RUNNING"}.get(status or "")
        candidates: list[tuple[datetime, str, CatalogEntry, dict[str, Any]]] = []
        for entry in entries:
            kwargs: dict[str, Any] = {"stateMachineArn": entry.state_machine_arn, "maxResults": 100}
            if sfn_filter:
                kwargs["statusFilter"] = sfn_filter
            seen = 0
            while seen < _LIST_SCAN_LIMIT:
                page = sfn.list_executions(**kwargs)
                for item in page.get("executions", []):
                    candidates.append((item["startDate"], item["executionArn"], entry, item))
                seen += len(page.get("executions", []))
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
        if before is not None:
            candidates = [c for c in candidates if (iso(c[0]), c[1]) < before]
        chosen: list[dict[str, Any]] = []
        more = False
        for started, arn, entry, item in candidates:
            item_status = _summary_status(sfn, entry, arn, item)
            if status is not None and item_status != status:
                continue
            if len(chosen) == limit:
                more = True
                break
            chosen.append({"execution_id": execution_id(entry.workflow.name, item["name"]), "workflow_id": entry.workflow.name,
                           "status": item_status, "started_at": iso(started), "completed_at": iso(item.get("stopDate")),
                           "_cursor": (iso(started), arn)})
        token = _encode_token(chosen[-1]["_cursor"]) if more and chosen else None
        for c in chosen:
            c.pop("_cursor")
        return {"executions": chosen, "next_token": token}

    @app.get("/api/executions/{execution_id}", response_model=ExecutionView, tags=["executions"],
             summary="An execution: status, timings, steps and result, from its Step Functions history")
    def get_execution(execution_id: str, _: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        entry, arn, description = resolve(execution_id)
        return view(entry, arn, description)

    @app.post("/api/executions/{execution_id}/cancel", response_model=ExecutionSummary, tags=["executions"],
              summary="Stop a running execution (its status becomes cancelled)")
    def cancel_execution(execution_id: str, identity: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        entry, arn, description = resolve(execution_id)
        if description["status"] != "RUNNING":
            raise ApiError(409, "CONFLICT", f"execution '{execution_id}' already ended "
                           f"({tracked(entry, arn).status(description['status'])})")
        backend.stop_execution(arn, f"cancelled through the API by {identity.subject}")
        if backend.approvals is not None:
            backend.approvals.cancel_pending(arn)
        description = sfn.describe_execution(executionArn=arn)
        current = view(entry, arn, description)
        return {k: current[k] for k in ("execution_id", "workflow_id", "status", "started_at", "completed_at")}

    @app.get("/api/executions/{execution_id}/stream", tags=["executions"],
             summary="Follow an execution live (Server-Sent Events)",
             response_class=EventSourceResponse,
             responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                              "description": "connected, status, step_start, step_complete, delta, tool_call, "
                                             "tool_result, error, complete, heartbeat; every event has an id"},
                        204: {"description": "Last-Event-ID is at the end of an execution that ended: nothing more to send"}})
    async def stream(execution_id: str, request: Request, last_event_id: Optional[str] = Query(
            None, description="Resume after this event id (the Last-Event-ID header takes precedence)"),
            _: VerifiedIdentity = Depends(_identity)) -> Response:
        try:
            cursor = StreamCursor.parse(request.headers.get("last-event-id") or last_event_id)
        except ValueError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc), [{"path": "Last-Event-ID", "message": str(exc)}]) from exc
        entry, arn, description = await anyio.to_thread.run_sync(resolve, execution_id)
        follower = _Follower(backend, entry, arn, cursor)
        first = await anyio.to_thread.run_sync(follower.poll)
        if follower.finished and not first:
            return Response(status_code=204)
        connected = {"execution_id": execution_id, "workflow_id": entry.workflow.name, "resumed_after": str(cursor) if cursor != StreamCursor() else None,
                     "timestamp": _now()}

        sent = [cursor]  # the position of the last event sent: heartbeats carry it

        async def events() -> AsyncIterator[ServerSentEvent]:
            yield ServerSentEvent(json.dumps(connected), event="connected", id=str(cursor), retry=2000)
            batch = first
            while True:
                for name, data, position in batch:
                    sent[0] = position
                    yield ServerSentEvent(json.dumps(data, default=str), event=name, id=str(position))
                if follower.finished:
                    return
                await anyio.sleep(backend.poll_seconds)
                batch = await anyio.to_thread.run_sync(follower.poll)

        def heartbeat() -> ServerSentEvent:
            return ServerSentEvent(json.dumps({"timestamp": _now()}), event="heartbeat", id=str(sent[0]))

        return EventSourceResponse(events(), ping=heartbeat_seconds, ping_message_factory=heartbeat,
                                   headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/approvals", response_model=ApprovalList, tags=["approvals"], summary="List approval requests")
    def list_approvals(status: str = Query("pending", description="pending, approved, rejected, expired, cancelled or all"),
                       _: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        allowed = ("pending", "approved", "rejected", "expired", "cancelled", "all")
        if status not in allowed:
            raise ApiError(400, "VALIDATION_ERROR", f"status must be one of {', '.join(allowed)}",
                           [{"path": "status", "message": f"unknown status {status!r}"}])
        if backend.approvals is None:
            return {"approvals": []}
        listed = backend.approvals.list(None if status == "all" else status)
        return {"approvals": [approval_view(a) for a in listed]}

    @app.post("/api/approvals/{approval_id}", response_model=ApprovalView, tags=["approvals"],
              summary="Approve or reject a request as the caller's verified identity")
    def decide(approval_id: str, body: DecisionRequest, identity: VerifiedIdentity = Depends(_identity)) -> dict[str, Any]:
        approvals = approvals_or_404()
        try:
            decided = approvals.decide(approval_id, body.decision, identity=identity, comment=body.comment)
        except approval_errors.ApprovalNotFoundError as exc:
            raise ApiError(404, "NOT_FOUND", f"no approval request '{approval_id}'") from exc
        except approval_errors.NotAnApproverError as exc:
            raise ApiError(403, "FORBIDDEN", f"{identity.subject} is not an approver of this request") from exc
        except (approval_errors.ApprovalClosedError, approval_errors.ApprovalExpiredError) as exc:
            raise ApiError(409, "CONFLICT", str(exc)) from exc
        return approval_view(decided)

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with its 422 responses replaced by this API's 400 (every error is ErrorBody)."""
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                document.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _summary_status(sfn: Any, entry: CatalogEntry, arn: str, item: dict[str, Any]) -> str:
    """The API status of a listed execution (a running one needs its history: pending or waiting?)."""
    if item["status"] == "RUNNING":
        tracker = ExecutionTracker(entry.workflow)
        tracker.feed_all(fetch_history(sfn, arn))
        return tracker.status("RUNNING")
    if item["status"] == "FAILED":
        error = sfn.describe_execution(executionArn=arn).get("error")
        return api_status("FAILED", error=error)
    return api_status(item["status"])


def _encode_token(cursor: tuple[str | None, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode("utf-8")).decode("ascii")


def _decode_token(token: str) -> tuple[str, str]:
    try:
        started, arn = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if not isinstance(started, str) or not isinstance(arn, str):
            raise ValueError("not a cursor")
        return started, arn
    except (ValueError, TypeError, UnicodeError) as exc:
        raise ApiError(400, "VALIDATION_ERROR", "next_token is not a token this API gave out",
                       [{"path": "next_token", "message": "invalid"}]) from exc


class _Follower:
    """One stream's reading position: history and deltas since the cursor, merged in time order."""

    def __init__(self, backend: Backend, entry: CatalogEntry, arn: str, cursor: StreamCursor):
        self.backend = backend
        self.entry = entry
        self.arn = arn
        self.execution_name = arn.rsplit(":", 1)[-1]
        self.tracker = ExecutionTracker(entry.workflow)
        self.position = cursor
        self.start = cursor
        self.finished = False

    def poll(self) -> list[tuple[str, dict[str, Any], StreamCursor]]:
        """What happened since the last poll: ``[(event name, data, cursor after it)]``."""
        fresh = fetch_history(self.backend.stepfunctions, self.arn, after=self.tracker.last_id)
        history: list[tuple[int, int, int, str, dict[str, Any]]] = []
        for event in fresh:
            for sub, (name, data) in enumerate(self.tracker.feed(event)):
                if (event["id"], sub) > (self.start.history_id, self.start.sub):
                    history.append((int(event["timestamp"].timestamp() * 1e9), event["id"], sub, name, data))
        ended = self.tracker.end is not None
        deltas: list[tuple[int, int, int, str, dict[str, Any]]] = []
        if self.backend.deltas is not None:
            for chunk in self.backend.deltas.read(self.entry.workflow.name, self.execution_name, after=self.position.delta_seq):
                data = {"step_id": chunk["step_id"], "text": chunk["text"], "index": chunk["index"],
                        "timestamp": datetime.fromtimestamp(chunk["time_ns"] / 1e9, timezone.utc).isoformat()}
                deltas.append((chunk["time_ns"], -1, chunk["seq"], "delta", data))
        out: list[tuple[str, dict[str, Any], StreamCursor]] = []
        for _, history_id, sub_or_seq, name, data in heapq.merge(history, deltas, key=lambda item: item[0]):
            if history_id == -1:
                self.position = StreamCursor(self.position.history_id, self.position.sub, sub_or_seq)
            else:
                self.position = StreamCursor(history_id, sub_or_seq, self.position.delta_seq)
            out.append((name, data, self.position))
        self.finished = ended
        return out

