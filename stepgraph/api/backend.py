"""What the API runs on: Step Functions, the workflow catalog, approvals and stream deltas.

One application serves both places; only this seam differs:

* :func:`local_backend` — ``stepgraph serve``: the local engine's emulated Step Functions
  (moto), its approvals table, and the deltas table created in its emulated DynamoDB.
* :func:`aws_backend` — deployed: boto3's real clients, configured by the API stack's
  environment variables (:data:`ENV`).

The backend holds no execution state of its own: executions are read from Step Functions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol

from ..approvals import Approval, ApprovalStore
from ..compiler import CompiledWorkflow, compile_workflow
from ..exceptions import ValidationIssue, WorkflowValidationError
from ..identity import VerifiedIdentity
from ..loader import parse_workflow, read_document
from ..model import Workflow
from ..validation import validate_workflow

__all__ = [
    "Backend",
    "CatalogEntry",
    "DeltaSource",
    "ENV",
    "WorkflowCatalog",
    "WorkflowExistsError",
    "aws_backend",
    "local_backend",
    "validate_document",
]

#: Environment of the deployed API function (set by ``stacks/api_stack.py``).
ENV = MappingProxyType({
    "state_machines": "STEPGRAPH_STATE_MACHINES",      # JSON {workflow name: state machine ARN}
    "approvals_table": "APPROVALS_TABLE_NAME",          # approvals table (read through the public projection)
    "decider_function": "APPROVAL_DECIDER_FUNCTION",    # the function that decides (holds the token rights)
    "deltas_table": "STREAM_DELTAS_TABLE",              # stream chunks of agents
    "project_root": "STEPGRAPH_PROJECT_ROOT",           # bundled workflows/ (documents of the deployed workflows)
    "agents": "STEPGRAPH_AGENTS",                       # JSON [agent id]
    "tools": "STEPGRAPH_TOOLS",                         # JSON [tool name]
})


class WorkflowExistsError(Exception):
    """``POST /api/workflows`` names a workflow that exists already."""


@dataclass(frozen=True)
class CatalogEntry:
    """One executable workflow."""

    workflow: Workflow
    document: dict[str, Any]
    compiled: CompiledWorkflow
    state_machine_arn: str
    source: str  # "project" or "api"


class WorkflowCatalog(Protocol):
    """The workflows the API can execute, and creating new ones."""

    def names(self) -> list[str]: ...  # pragma: no cover - a protocol

    def get(self, name: str) -> CatalogEntry | None: ...  # pragma: no cover

    def create(self, workflow: Workflow, document: dict[str, Any]) -> CatalogEntry: ...  # pragma: no cover

    @property
    def agents(self) -> frozenset[str]: ...  # pragma: no cover

    @property
    def tools(self) -> frozenset[str] | None: ...  # pragma: no cover


def validate_document(document: Any, catalog: WorkflowCatalog) -> Workflow:
    """Read and validate a workflow document against the catalog's agents, tools and workflows.

    Raises
    ------
    WorkflowValidationError
        With every problem: the shape, the graph, unknown agents and tools, ``on_complete``
        targets the catalog does not hold.
    """
    parsed = parse_workflow(document, source="request body")
    issues = list(parsed.issues)
    if parsed.workflow is not None:
        issues += validate_workflow(parsed.workflow, agents=catalog.agents, tools=catalog.tools,
                                    unreadable_step_ids=parsed.unreadable_step_ids)
        known = set(catalog.names()) | {parsed.workflow.name}
        for i, target in enumerate(parsed.workflow.on_complete):
            if target.workflow not in known:
                issues.append(ValidationIssue(f"on_complete names unknown workflow '{target.workflow}'", None, f"on_complete[{i}]"))
    if issues or parsed.workflow is None:
        raise WorkflowValidationError(issues, source="request body")
    return parsed.workflow


class DeltaSource(Protocol):
    """Reads the text chunks streaming agents publish (:mod:`stepgraph_runtime.deltas`)."""

    def read(self, workflow_name: str, execution_name: str, *, after: int) -> list[dict[str, Any]]: ...  # pragma: no cover


@dataclass(frozen=True)
class _TableDeltas:
    client: Any
    table_name: str

    def read(self, workflow_name: str, execution_name: str, *, after: int) -> list[dict[str, Any]]:
        from stepgraph_runtime.deltas import execution_key, read_deltas

        return read_deltas(self.client, self.table_name, execution_key(workflow_name, execution_name), after=after)


class Approvals(Protocol):
    """Listing and deciding approval requests."""

    def list(self, status: str | None = "pending", *, execution_arn: str | None = None) -> list[Approval]: ...  # pragma: no cover

    def get(self, approval_id: str) -> Approval: ...  # pragma: no cover

    def decide(self, approval_id: str, decision: str, *, identity: VerifiedIdentity, comment: str = "") -> Approval: ...  # pragma: no cover

    def cancel_pending(self, execution_arn: str) -> list[str]: ...  # pragma: no cover


@dataclass
class Backend:
    """Everything the API reads and calls.

    Attributes
    ----------
    stepfunctions:
        A boto3 Step Functions client (the emulator's locally).
    catalog:
        The executable workflows.
    approvals:
        Approval requests (``None`` when no workflow has a ``human_approval`` step).
    deltas:
        Stream chunks of agents (``None``: streams carry no ``delta`` events).
    stop_execution:
        ``(execution_arn, cause)``: stops an execution. Locally the engine's stop, which also
        fails the task tokens moto would leave waiting.
    poll_seconds:
        How often an open stream looks at the history (local 0.1 s, deployed 1 s).
    execution_prefix:
        The start of execution names the API gives.
    examples_root:
        The folder whose ``examples/<workflow>.input.json`` are the workflows' example inputs.
    """

    stepfunctions: Any
    catalog: WorkflowCatalog
    approvals: Approvals | None
    deltas: DeltaSource | None
    stop_execution: Callable[[str, str], None]
    poll_seconds: float = 1.0
    execution_prefix: str = "api"
    examples_root: Path | None = None


def example_input(root: Path | None, workflow_name: str) -> dict[str, Any] | None:
    """The example input of a workflow, ``<root>/examples/<name>.input.json``, or ``None``.

    The console prefills its input editor with it. A file that is not a JSON object is ignored.
    """
    if root is None or "/" in workflow_name or workflow_name.startswith("."):
        return None
    path = Path(root) / "examples" / f"{workflow_name}.input.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


# --------------------------------------------------------------------------- local


class _LocalCatalog:
    """The engine's project workflows, plus those created through the API (kept in the engine)."""

    def __init__(self, engine: Any):
        self.engine = engine
        self._documents: dict[str, dict[str, Any]] = {}
        self._sources: dict[str, str] = {name: "project" for name in engine.project.workflows}

    @property
    def agents(self) -> frozenset[str]:
        return frozenset(self.engine.project.agents)

    @property
    def tools(self) -> frozenset[str] | None:
        from ..project import registered_tools

        return self.engine.project.tools or registered_tools(self.engine.project.root)

    def names(self) -> list[str]:
        return sorted(self.engine.project.workflows)

    def get(self, name: str) -> CatalogEntry | None:
        workflow = self.engine.project.workflows.get(name)
        if workflow is None:
            return None
        arn = self.engine.deploy(name)
        document = self._documents.get(name)
        if document is None and workflow.source:
            document = read_document(workflow.source)
            self._documents[name] = document
        return CatalogEntry(workflow, document or {}, self.engine.compiled[name], arn, self._sources.get(name, "project"))

    def create(self, workflow: Workflow, document: dict[str, Any]) -> CatalogEntry:
        if workflow.name in self.engine.project.workflows:
            raise WorkflowExistsError(f"workflow '{workflow.name}' exists already")
        self.engine.add_workflow(workflow)
        self._documents[workflow.name] = document
        self._sources[workflow.name] = "api"
        entry = self.get(workflow.name)
        assert entry is not None
        return entry


def local_backend(engine: Any, *, poll_seconds: float = 0.1) -> Backend:
    """The backend of ``stepgraph serve``: a started :class:`~stepgraph.local.LocalEngine`.

    Creates the deltas table in the engine's emulated DynamoDB and points
    ``STREAM_DELTAS_TABLE`` at it, so the in-process invoker publishes chunks there.
    """
    from stepgraph_runtime.deltas import TABLE_ENV, create_table

    table = "stepgraph-stream-deltas"
    dynamodb = engine.client("dynamodb")
    if table not in dynamodb.list_tables().get("TableNames", []):
        create_table(dynamodb, table)
    engine._set_env({TABLE_ENV: table})
    return Backend(
        stepfunctions=engine.client("stepfunctions"),
        catalog=_LocalCatalog(engine),
        approvals=engine.approvals,
        deltas=_TableDeltas(dynamodb, table),
        stop_execution=engine.cancel,
        poll_seconds=poll_seconds,
        examples_root=Path(engine.project.root),
    )


# --------------------------------------------------------------------------- AWS


class _DeployedCatalog:
    """The deployed state machines (``STEPGRAPH_STATE_MACHINES``) and their bundled documents.

    Workflows created through the API are compiled and validated here, but a deployed app's
    state machines are owned by CloudFormation: ``create`` refuses with a message that says so
    (deploy the workflow file with ``cdk deploy``).
    """

    def __init__(self, machines: Mapping[str, str], root: str, agents: frozenset[str], tools: frozenset[str]):
        self.machines = dict(machines)
        self.root = root
        self._agents = agents
        self._tools = tools
        self._cache: dict[str, CatalogEntry] = {}

    @property
    def agents(self) -> frozenset[str]:
        return self._agents

    @property
    def tools(self) -> frozenset[str] | None:
        return self._tools

    def names(self) -> list[str]:
        return sorted(self.machines)

    def get(self, name: str) -> CatalogEntry | None:
        if name not in self.machines:
            return None
        if name not in self._cache:
            from ..project import WORKFLOW_SUFFIXES

            folder = Path(self.root) / "workflows"
            for path in sorted(folder.glob("*")):
                if path.suffix not in WORKFLOW_SUFFIXES:
                    continue
                document = read_document(path)
                if isinstance(document, dict) and document.get("name") == name:
                    parsed = parse_workflow(document, source=str(path))
                    if parsed.workflow is not None:
                        compiled = compile_workflow(parsed.workflow)
                        self._cache[name] = CatalogEntry(parsed.workflow, document, compiled, self.machines[name], "project")
                    break
        return self._cache.get(name)

    def create(self, workflow: Workflow, document: dict[str, Any]) -> CatalogEntry:
        if workflow.name in self.machines:
            raise WorkflowExistsError(f"workflow '{workflow.name}' exists already")
        raise NotImplementedError(
            "the deployed API validates and compiles workflow documents, but its state machines are "
            "owned by CloudFormation: add the file to workflows/ and run cdk deploy")


@dataclass(frozen=True)
class _LambdaDecider:
    """Approvals on AWS: listed from the table without task tokens, decided by the decider function.

    The API's role may read only the public attributes of a request (``dynamodb:Attributes``)
    and cannot call ``SendTaskSuccess``; it invokes the decider with the caller's verified
    identity, and only it may invoke the decider.
    """

    store: ApprovalStore
    lambda_client: Any
    function_name: str

    def list(self, status: str | None = "pending", *, execution_arn: str | None = None) -> list[Approval]:
        return self.store.list(status, execution_arn=execution_arn)

    def get(self, approval_id: str) -> Approval:
        return self.store.get(approval_id)

    def _invoke(self, event: dict[str, Any]) -> Any:
        from .decider import raise_decider_error

        response = self.lambda_client.invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode("utf-8"))
        answer = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise_decider_error(answer)
        return answer

    def decide(self, approval_id: str, decision: str, *, identity: VerifiedIdentity, comment: str = "") -> Approval:
        answer = self._invoke({"action": "decide", "approval_id": approval_id, "decision": decision, "comment": comment,
                               "identity": {"subject": identity.subject, "method": identity.method}})
        return Approval.from_item(answer)

    def cancel_pending(self, execution_arn: str) -> list[str]:
        return list(self._invoke({"action": "cancel", "execution_arn": execution_arn}) or [])


def aws_backend(environ: Mapping[str, str] | None = None) -> Backend:
    """The deployed backend, configured by the API stack's environment (:data:`ENV`).

    Raises
    ------
    KeyError
        When ``STEPGRAPH_STATE_MACHINES`` is not set.
    """
    import boto3

    env = os.environ if environ is None else environ
    machines = json.loads(env[ENV["state_machines"]])
    catalog = _DeployedCatalog(machines, env.get(ENV["project_root"], "."),
                               frozenset(json.loads(env.get(ENV["agents"], "[]"))),
                               frozenset(json.loads(env.get(ENV["tools"], "[]"))))
    sfn = boto3.client("stepfunctions")
    approvals = None
    if env.get(ENV["approvals_table"]) and env.get(ENV["decider_function"]):
        store = ApprovalStore(env[ENV["approvals_table"]], dynamodb=boto3.client("dynamodb"), stepfunctions=sfn)
        approvals = _LambdaDecider(store, boto3.client("lambda"), env[ENV["decider_function"]])
    deltas = _TableDeltas(boto3.client("dynamodb"), env[ENV["deltas_table"]]) if env.get(ENV["deltas_table"]) else None

    def stop(execution_arn: str, cause: str) -> None:
        from .views import CANCEL_ERROR

        sfn.stop_execution(executionArn=execution_arn, error=CANCEL_ERROR, cause=cause[:256])

    return Backend(stepfunctions=sfn, catalog=catalog, approvals=approvals, deltas=deltas, stop_execution=stop, poll_seconds=1.0,
                   examples_root=Path(env.get(ENV["project_root"], ".")))
