"""The local engine: the compiled state machine on moto's Step Functions interpreter, offline.

What runs where (SPEC §10):

* the **state machine** is the very ASL document ``cdk deploy`` ships, created in moto's Step
  Functions with the placeholders filled by local resource names;
* **S3, SNS, SQS, IAM, Lambda** are moto's in-process emulations; the result record lands in an
  emulated bucket and on an emulated topic, exactly as deployed;
* **Lambda handlers** of ``lambdas/`` run in-process (:mod:`stepgraph.local.emulator`);
* **agents** run from their folders on loopback behind an emulated AgentCore data plane
  (:mod:`stepgraph.local.agentcore`).

Waits and retry back-offs are fast-forwarded unless ``real_time=True``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator

from stepgraph_runtime import env
from stepgraph_runtime.trace import trace_id_of, traceparent_for_execution

from ..compiler import CompiledWorkflow, compile_workflow, result_key
from ..exceptions import ProjectError, StepgraphError, WorkflowValidationError
from ..handlers import CHAIN, RECORD_BACKSTOP, STATE_MACHINE_HANDLERS, HandlerSpec, session_agents
from ..history import StepEvent, convert_history_event
from ..identity import VerifiedIdentity
from ..project import Project, import_tools
from ..substitutions import APPROVAL_FUNCTION, RESULTS_BUCKET, RESULTS_TOPIC, agent_runtime_key, state_machine_key
from .agentcore import AgentCoreGateway, local_runtime_arn
from .emulator import FastForward, HistoryFeed, LambdaRegistry, TaskCallbacks, install_seams, restore_real_time

__all__ = ["LocalEngine", "StepEvent", "RunResult", "LOCAL_LAMBDAS", "EngineError"]

REGION = "us-east-1"
ACCOUNT = "123456789012"
RESULTS_BUCKET_NAME = "stepgraph-results-local"
RESULTS_TOPIC_NAME = "stepgraph-results"
APPROVALS_TABLE_NAME = "stepgraph-approvals"
APPROVALS_TOPIC_NAME = "stepgraph-approvals"
#: Substitution key → (local function name, folder under ``lambdas/``), from the handler table.
LOCAL_LAMBDAS = {key: (spec.local_name, spec.folder) for key, spec in STATE_MACHINE_HANDLERS.items()}
CHAIN_QUEUE_NAME = "stepgraph-chain-deliveries"
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
#: Least seconds between two ``on_poll`` calls of :meth:`LocalEngine.events` (events wake it far more often).
_ON_POLL_SECONDS = 0.05


class EngineError(StepgraphError):
    """The local engine cannot run a workflow (a handler is missing, the execution vanished …)."""


@dataclass
class RunResult:
    """Outcome of :meth:`LocalEngine.run`.

    Attributes
    ----------
    execution_arn:
        The execution's ARN (in the emulator).
    record:
        The result record read back from the results bucket (SPEC §5).
    record_path:
        Where the record was also written on disk (``.stepgraph/results/...``).
    events:
        Every event that was streamed.
    skipped_seconds:
        Seconds of waits and back-offs fast-forwarded.
    """

    execution_arn: str
    record: dict[str, Any]
    record_path: Path
    events: list[StepEvent]
    skipped_seconds: float = 0.0
    chained: list["RunResult"] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.record.get("status"))

    @property
    def all_completed(self) -> bool:
        """True when this run and every run it chained to completed."""
        return self.status == "completed" and all(r.all_completed for r in self.chained)


def _load_handler(spec: HandlerSpec, project_root: Path) -> ModuleType | None:
    """A handler of the project's ``lambdas/``, loaded by path (``None`` when the project lacks it).

    A handler that needs the project's ``tools`` package while the project has none is left out
    (a workflow that calls it then fails to deploy locally, naming the missing function).
    """
    handler_file = spec.handler_file(project_root)
    if not handler_file.is_file():
        return None
    try:
        module = _load_module(handler_file, f"stepgraph_local_lambda_{spec.folder}")
    except ModuleNotFoundError as exc:
        if exc.name == "tools":
            return None
        raise
    _logs_to_stderr(module)
    return module


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a file path always has a loader
        raise EngineError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _logs_to_stderr(module: ModuleType) -> None:
    """Send a handler's Powertools logs to stderr: locally, stdout belongs to the CLI's output."""
    logger = getattr(module, "logger", None)
    handler = getattr(logger, "registered_handler", None)
    if handler is not None and hasattr(handler, "setStream"):
        handler.setStream(sys.stderr)


def _local_secrets(path: Path) -> dict[str, str]:
    """The local secrets file: ``{"<name>": "<value>"}``; empty when there is none.

    Raises
    ------
    EngineError
        When the file is not such an object.
    """
    if not path.is_file():
        return {}
    try:
        secrets = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise EngineError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(secrets, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()):
        raise EngineError(f"{path} must be one object of secret names and string values")
    return secrets


class _Clients(dict):
    """boto3 clients of the emulator by service name, each created on first use (a client costs ~50 ms)."""

    def __missing__(self, service: str) -> Any:
        import boto3

        client = self[service] = boto3.client(service, region_name=REGION)
        return client


class LocalEngine:
    """Runs compiled workflows on an embedded AWS emulator (use as a context manager).

    Parameters
    ----------
    project:
        The project (workflows and agents).
    real_time:
        Keep ``Wait`` states and retry back-offs at their real length (default: fast-forward).
    results_dir:
        Folder for result records on disk; default ``<project>/.stepgraph/results``.
    agent_env:
        Extra environment variables for agent processes.
    approval_decision:
        ``"approved"`` or ``"rejected"`` answers every human_approval step at once; ``None``
        leaves them to the ``on_approval`` callback of :meth:`run` (a terminal prompt in the CLI).
    secrets:
        Secrets Manager secrets to create in the emulator, by name (what ``{{secrets.<name>}}``
        in an ``api_call``'s headers reads). Default: ``<project>/.stepgraph/secrets.json``
        (an object of names and string values) when it exists — a file kept out of git, never a
        workflow or an input.
    start_agents_for:
        Workflows about to run: the agents they (their subflows, and the workflows they chain
        to) invoke are started with the engine, so their start-up overlaps the emulator's.
        Default: none; every agent starts on its first invocation.

    Examples
    --------
    >>> with LocalEngine(load_project(".")) as engine:  # doctest: +SKIP
    ...     result = engine.run("customer-support", {"trigger": {"kind": "chat", "current_message": "hi"}})
    ...     result.record["status"]
    'completed'
    """

    def __init__(self, project: Project, *, real_time: bool = False, results_dir: Path | None = None,
                 agent_env: dict[str, str] | None = None, approval_decision: str | None = None,
                 secrets: dict[str, str] | None = None, start_agents_for: Iterable[str] = ()):
        self.project = project
        self.start_agents_for = tuple(start_agents_for)
        self.secrets = secrets if secrets is not None else _local_secrets(project.root / ".stepgraph" / "secrets.json")
        self.approval_decision = approval_decision
        self.real_time = real_time
        self.results_dir = results_dir or project.root / ".stepgraph" / "results"
        self.agent_env = agent_env or {}
        self.registry = LambdaRegistry()
        self.fast_forward = None if real_time else FastForward()
        self.history = HistoryFeed()
        self.state_machines: dict[str, str] = {}
        self.compiled: dict[str, CompiledWorkflow] = {}
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.gateway: AgentCoreGateway | None = None
        self.clients: dict[str, Any] = _Clients()
        self._approvals: Any = None
        self.substitutions: dict[str, str] = {}
        self.topic_arn = ""
        self.chain_queue_url: str | None = None
        #: Upstream workflow → ``(route, error)`` for chain targets whose files are invalid.
        self.chain_problems: dict[str, list[tuple[dict[str, str], WorkflowValidationError]]] = {}

    # ------------------------------------------------------------------ lifecycle

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def __enter__(self) -> "LocalEngine":
        from moto import mock_aws

        agents = {local_runtime_arn(a, region=REGION, account=ACCOUNT): spec for a, spec in self.project.agents.items()}
        self.gateway = AgentCoreGateway(agents, env=self.agent_env, log_dir=self.project.root / ".stepgraph" / "logs")
        self.gateway.env = {**self.gateway.callback_env(), **self.agent_env}  # async agents report back through it
        self.gateway.start()
        self._set_env({
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": self.gateway.endpoint_url,
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "stepgraph-local",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        })
        self.gateway.launch(self.agents_for(self.start_agents_for))
        # moto logs every failed state at ERROR with its whole parse tree; failures are expected
        # here (they are how Retry/Catch are exercised) and reach the user as step events instead
        moto_logger = logging.getLogger("moto.stepfunctions")
        self._saved_log_level = moto_logger.level
        moto_logger.setLevel(logging.CRITICAL)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        self._mock.start()
        install_seams(self.registry, fast_forward=self.fast_forward, history=self.history)
        self.gateway.callbacks = TaskCallbacks(self.clients["stepfunctions"], account=ACCOUNT, region=REGION)
        self._create_resources()
        for name, value in self.secrets.items():
            self.clients["secretsmanager"].create_secret(Name=name, SecretString=value)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.gateway:
            self.gateway.stop()
        if self._mock:
            self._mock.stop()
            restore_real_time()  # the seams are process-wide: a later emulator waits in real time
            logging.getLogger("moto.stepfunctions").setLevel(self._saved_log_level)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def agents_for(self, workflow_names: Iterable[str]) -> list[str]:
        """The agents these workflows may invoke: their own, their subflows', and those of the workflows they chain to."""
        from ..chaining import chain_routes

        queue, seen = list(workflow_names), set()
        if not queue:  # the common case: nothing to start, nothing to compute
            return []
        workflows = self.project.workflows
        routes, per_workflow = chain_routes(workflows), session_agents(workflows)
        found: set[str] = set()
        while queue:
            name = queue.pop()
            if name in seen:
                continue
            seen.add(name)
            found.update(per_workflow.get(name, ()))
            queue += [target["workflow"] for target in routes.get(name, [])]
        return sorted(found)

    @property
    def approvals(self) -> Any:
        """The approval requests (:class:`~stepgraph.approvals.ApprovalStore`); its table is created on first use.

        A workflow with a ``human_approval`` step creates it when deployed, before it runs.
        """
        if self._approvals is None:
            from ..approvals import ApprovalStore

            self.clients["dynamodb"].create_table(
                TableName=APPROVALS_TABLE_NAME, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}],
            )
            self._approvals = ApprovalStore(APPROVALS_TABLE_NAME, dynamodb=self.clients["dynamodb"],
                                            stepfunctions=self.clients["stepfunctions"])
        return self._approvals

    def client(self, service: str) -> Any:
        """A boto3 client of the emulator (``s3``, ``sns``, ``sqs``, ``stepfunctions`` …)."""
        return self.clients[service]

    # ------------------------------------------------------------------ resources

    def _create_resources(self) -> None:
        """The results bucket and topics, and the in-process handlers behind every Lambda ARN.

        No IAM role and no moto Lambda function is created: moto's Step Functions takes any
        role ARN, and its Lambda ``Invoke`` goes to the registry (:mod:`.emulator`) without
        looking the function up, so ``lambda:invoke`` Tasks only need an ARN to name.
        """
        s3, sns = self.clients["s3"], self.clients["sns"]
        s3.create_bucket(Bucket=RESULTS_BUCKET_NAME)
        self.topic_arn = sns.create_topic(Name=RESULTS_TOPIC_NAME)["TopicArn"]
        self.approvals_topic_arn = sns.create_topic(Name=APPROVALS_TOPIC_NAME)["TopicArn"]
        self._set_env({env.APPROVALS_TABLE_NAME: APPROVALS_TABLE_NAME, env.APPROVALS_TOPIC_ARN: self.approvals_topic_arn,
                       env.PAYLOADS_BUCKET: RESULTS_BUCKET_NAME})
        self.role_arn = f"arn:aws:iam::{ACCOUNT}:role/stepgraph-local"
        self.substitutions = {RESULTS_BUCKET: RESULTS_BUCKET_NAME, RESULTS_TOPIC: self.topic_arn}
        for agent_id in self.project.agents:
            self.substitutions[agent_runtime_key(agent_id)] = local_runtime_arn(agent_id, region=REGION, account=ACCOUNT)
        import_tools(self.project.root)  # as ``tools``, for lambdas/tool_call (deployed, it sits in the asset)
        for key, spec in STATE_MACHINE_HANDLERS.items():
            module = _load_handler(spec, self.project.root)
            if module is None:
                continue
            self.registry.register(spec.local_name, module.lambda_handler)
            self.substitutions[key] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.local_name}"
        self._setup_chaining()
        module = _load_handler(RECORD_BACKSTOP, self.project.root)
        if module is not None:
            self.registry.register(RECORD_BACKSTOP.local_name, module.lambda_handler)
            self._set_env({env.RESULTS_BUCKET_NAME: RESULTS_BUCKET_NAME, env.RESULTS_TOPIC_ARN: self.topic_arn,
                           env.STATE_MACHINE_NAME_PREFIX: ""})

    def _setup_chaining(self) -> None:
        """Subscribe the chain handler's delivery queue to the results topic, filtered per upstream.

        Deployed, SNS invokes ``lambdas/chain`` directly; locally the deliveries wait in an SQS
        queue (moto applies the same filter policies) and the engine hands each one to the
        handler in-process, as an SNS event, after the upstream run.
        """
        from ..chaining import chain_routes, filter_policy

        routes = chain_routes(self.project.workflows)
        self.chain_queue_url = None
        module = _load_handler(CHAIN, self.project.root) if routes else None
        if module is None:
            return
        self.registry.register(CHAIN.local_name, module.lambda_handler)
        sqs, sns = self.clients["sqs"], self.clients["sns"]
        self.chain_queue_url = sqs.create_queue(QueueName=CHAIN_QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.chain_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        local_routes: dict[str, list[dict[str, str]]] = {}
        for upstream, targets in routes.items():
            sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn,
                          Attributes={"FilterPolicy": json.dumps(filter_policy(upstream, targets))})
            local_routes[upstream] = []
            for target in targets:
                try:
                    local_routes[upstream].append(dict(target, state_machine_arn=self.deploy(target["workflow"])))
                except WorkflowValidationError as exc:  # reported when a run would chain to it
                    self.chain_problems.setdefault(upstream, []).append((target, exc))
        self._set_env({env.CHAIN_ROUTES: json.dumps(local_routes)})

    def _deliver_chain_messages(self) -> list[str]:
        """Hand waiting results-topic deliveries to the chain handler; return executions it started."""
        if not self.chain_queue_url:
            return []
        sqs = self.clients["sqs"]
        started: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.chain_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return started
            for message in messages:
                envelope = json.loads(message["Body"])
                event = {"Records": [{"EventSource": "aws:sns", "Sns": envelope}]}
                answer = json.loads(self.registry.invoke(CHAIN.local_name, json.dumps(event), {}))
                started += answer.get("started", []) if isinstance(answer, dict) else []
                sqs.delete_message(QueueUrl=self.chain_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def register_handler(self, function_key: str, handler: Callable[[Any, Any], Any]) -> None:
        """Replace the in-process handler behind a substitution key (fault injection in tests)."""
        function_name = LOCAL_LAMBDAS[function_key][0]
        self.registry.register(function_name, handler)

    def deploy(self, workflow_name: str) -> str:
        """Create (once) the state machine of a workflow; return its ARN.

        Raises
        ------
        EngineError
            When the workflow is unknown or needs a Lambda handler the project lacks.
        WorkflowValidationError
            When the workflow's file (or a subflow's) is invalid: every problem of it.
        """
        if workflow_name in self.state_machines:
            return self.state_machines[workflow_name]
        try:
            workflow = self.project.workflow(workflow_name)
        except ProjectError as exc:
            raise EngineError(str(exc)) from exc
        compiled = compile_workflow(workflow)
        for child in compiled.child_workflows:  # a subflow's state machine exists before its parent's
            self.substitutions[state_machine_key(child)] = self.deploy(child)
        missing = sorted(compiled.substitution_keys - set(self.substitutions))
        if missing:
            raise EngineError(f"workflow {workflow_name} needs {missing}, which this project does not provide locally")
        if APPROVAL_FUNCTION in compiled.substitution_keys:
            self.approvals  # noqa: B018 - its table exists before the approval Lambda writes to it
        arn = self.clients["stepfunctions"].create_state_machine(
            name=workflow_name, definition=compiled.substitute(self.substitutions), roleArn=self.role_arn,
        )["stateMachineArn"]
        self.compiled[workflow_name] = compiled
        self.state_machines[workflow_name] = arn
        self._set_env({env.SESSION_RUNTIMES: json.dumps({  # what the deployed backstop is told: whose sessions to stop
            name: [[local_runtime_arn(a, region=REGION, account=ACCOUNT), "DEFAULT"] for a in agents]
            for name, agents in session_agents(self.compiled).items()})})
        return arn

    # ------------------------------------------------------------------ executions

    def start_execution(self, workflow_name: str, execution_input: Any, *, name: str | None = None) -> str:
        """Start an execution (always named: moto collides on unnamed starts). Returns its ARN."""
        arn = self.deploy(workflow_name)
        name = name or f"local-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        return self.clients["stepfunctions"].start_execution(stateMachineArn=arn, name=name, input=json.dumps(execution_input))["executionArn"]

    def events(self, execution_arn: str, *, poll_seconds: float = 0.2,
               on_poll: Callable[[], None] | None = None) -> Iterator[StepEvent]:
        """Yield events as the execution's history grows, until it ends.

        The history is read in-process (:class:`~stepgraph.local.emulator.HistoryFeed`): only
        the events not seen yet, as soon as one is recorded. ``on_poll`` is called after every
        look at the history (at most every 50 ms), and at least every ``poll_seconds`` while
        nothing happens (the engine answers approvals there).
        """
        seen = 0
        polled = 0.0
        trace_id = trace_id_of(traceparent_for_execution(execution_arn))
        while True:
            generation = self.history.generation
            try:
                status, fresh = self.history.read(execution_arn, seen)
            except ValueError as exc:
                raise EngineError(str(exc)) from exc
            seen += len(fresh)
            for event in fresh:
                converted = self._convert(event)
                if converted is not None:
                    yield replace(converted, trace_id=trace_id)
            if status in _TERMINAL:
                return
            if on_poll is not None and time.monotonic() - polled >= _ON_POLL_SECONDS:
                on_poll()
                polled = time.monotonic()
            self.history.wait(generation, poll_seconds)

    def _convert(self, event: dict[str, Any]) -> StepEvent | None:
        return convert_history_event(event)

    def result_record(self, workflow_name: str, execution_arn: str) -> dict[str, Any]:
        """Read an execution's result record from the emulated results bucket.

        Raises
        ------
        EngineError
            When the execution ended without writing one (which the state machine never does).
        """
        execution_name = execution_arn.rsplit(":", 1)[-1]
        try:
            body = self.clients["s3"].get_object(Bucket=RESULTS_BUCKET_NAME, Key=result_key(workflow_name, execution_name))["Body"].read()
        except self.clients["s3"].exceptions.NoSuchKey as exc:
            description = self.clients["stepfunctions"].describe_execution(executionArn=execution_arn)
            raise EngineError(
                f"execution {execution_name} ended {description['status']} without a result record: "
                f"{description.get('error')}: {description.get('cause')}"
            ) from exc
        return json.loads(body)

    def _answer_approvals(self, execution_arn: str, on_approval: Callable[[Any], Any] | None, seen: set[str]) -> None:
        if self._approvals is None:  # no workflow with a human_approval step was deployed
            return
        for approval in self.approvals.list("pending", execution_arn=execution_arn):
            if approval.approval_id in seen:
                continue
            seen.add(approval.approval_id)
            answer: Any = None
            if self.approval_decision is not None:
                answer = (self.approval_decision, f"decided locally with --{'approve' if self.approval_decision == 'approved' else 'reject'}")
            elif on_approval is not None:
                answer = on_approval(approval)
            if answer is not None:
                decision, comment = answer
                # the person at this terminal owns the emulated approval; recorded as method "local-run"
                operator = VerifiedIdentity(approval.approvers[0], "local-run")
                self.approvals.decide(approval.approval_id, decision, identity=operator, comment=comment)

    def run(self, workflow_name: str, execution_input: Any, *, on_event: Callable[[StepEvent], None] | None = None,
            name: str | None = None, on_approval: Callable[[Any], Any] | None = None,
            follow_chain: bool = True) -> RunResult:
        """Execute a workflow to its end and return its result record.

        Parameters
        ----------
        workflow_name:
            A workflow of the project.
        execution_input:
            The execution input (SPEC §5), e.g. the seed's chat request.
        on_event:
            Called with each :class:`StepEvent` as it happens.
        name:
            Execution name (default: ``local-<UTC time>-<random>``).
        on_approval:
            Called with each :class:`~stepgraph.approvals.Approval` the execution opens, unless the
            engine has an ``approval_decision``; returns ``(decision, comment)`` to decide it as
            the first approver, or ``None`` to leave it open (it then times out).
        follow_chain:
            Also run the workflows this one starts through ``on_complete`` (SPEC §5), as the
            deployed chain Lambda would; their results are in ``RunResult.chained``.

        Returns
        -------
        RunResult
            With the record also written to ``<results_dir>/<workflow>/<execution>.json``.
        """
        arn = self.start_execution(workflow_name, execution_input, name=name)
        collected: list[StepEvent] = []
        answered: set[str] = set()
        try:
            for event in self.events(arn, on_poll=lambda: self._answer_approvals(arn, on_approval, answered)):
                collected.append(event)
                if on_event:
                    on_event(event)
        except BaseException as exc:  # Ctrl-C or a callback giving up: do not leave the execution running
            self._stop(arn, f"{type(exc).__name__}: {exc}")
            raise
        result = self._finish_run(workflow_name, arn, collected)
        if follow_chain:
            self.follow_chain(result, on_event=on_event, on_approval=on_approval)
        return result

    def follow_chain(self, result: RunResult, *, on_event: Callable[[StepEvent], None] | None = None,
                     on_approval: Callable[[Any], Any] | None = None) -> list[RunResult]:
        """Deliver waiting results-topic messages to the chain handler and follow what it starts.

        Each downstream run is announced by a ``chained`` event (``name`` = its workflow) before
        its own events, and appended to ``result.chained``; runs it chains to are followed too.
        """
        for downstream_arn in self._deliver_chain_messages():
            result.chained.append(self.follow(downstream_arn, on_event=on_event, on_approval=on_approval))
        workflow_name = str(result.record.get("workflowName"))
        for route, error in self.chain_problems.get(workflow_name, []):
            if route.get("when", "completed") in ("any", result.status):
                raise EngineError(f"on_complete of {workflow_name} would start workflow '{route['workflow']}', which is invalid: {error}")
        return result.chained

    def follow(self, execution_arn: str, *, on_event: Callable[[StepEvent], None] | None = None,
               on_approval: Callable[[Any], Any] | None = None) -> RunResult:
        """Follow an execution started elsewhere (a chained run) to its end, and what it chains to."""
        sfn = self.clients["stepfunctions"]
        machine = sfn.describe_execution(executionArn=execution_arn)["stateMachineArn"]
        workflow_name = next(name for name, arn in self.state_machines.items() if arn == machine)
        if on_event:
            on_event(StepEvent("chained", workflow_name, datetime.now(timezone.utc), {"execution_arn": execution_arn}))
        collected: list[StepEvent] = []
        answered: set[str] = set()
        for event in self.events(execution_arn, on_poll=lambda: self._answer_approvals(execution_arn, on_approval, answered)):
            collected.append(event)
            if on_event:
                on_event(event)
        result = self._finish_run(workflow_name, execution_arn, collected)
        self.follow_chain(result, on_event=on_event, on_approval=on_approval)
        return result

    def _stop(self, execution_arn: str, cause: str) -> None:
        """Stop an execution (``StopExecution``) and record it as cancelled, as the deployed backstop does.

        moto does not interrupt a task waiting for its token, so the engine fails those tokens
        itself to let the execution end.
        """
        sfn = self.clients["stepfunctions"]
        sfn.stop_execution(executionArn=execution_arn, error="Aborted", cause=cause[:256])
        for approval in [] if self._approvals is None else self.approvals.list("pending", execution_arn=execution_arn):
            token = self.approvals._get_item(approval.approval_id)["task_token"]
            try:
                sfn.send_task_failure(taskToken=token, error="Aborted", cause=cause[:256])
            except sfn.exceptions.ClientError:
                pass
        self._backstop(execution_arn, status="ABORTED", cause=cause)

    def _backstop(self, execution_arn: str, *, status: str | None = None, cause: str | None = None) -> None:
        """What the EventBridge rule does when deployed: record an execution that ended unrecorded."""
        if self.registry.handler_for(RECORD_BACKSTOP.local_name) is None:
            return
        description = self.clients["stepfunctions"].describe_execution(executionArn=execution_arn)
        deadline = time.monotonic() + 10
        while description["status"] == "RUNNING" and time.monotonic() < deadline:  # a stop takes effect shortly
            time.sleep(0.05)
            description = self.clients["stepfunctions"].describe_execution(executionArn=execution_arn)
        detail = {
            "executionArn": execution_arn, "stateMachineArn": description["stateMachineArn"],
            "name": description["name"], "status": description["status"], "input": description.get("input"),
            "startDate": int(description["startDate"].timestamp() * 1000),
            "stopDate": int(description["stopDate"].timestamp() * 1000) if description.get("stopDate") else None,
            "error": description.get("error"), "cause": description.get("cause"),
        }
        if status is not None:  # moto reports a stopped execution as FAILED; AWS says ABORTED
            detail.update(status=status, cause=cause or detail["cause"])
        event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "detail": detail}
        self.registry.invoke(RECORD_BACKSTOP.local_name, json.dumps(event, default=str), {})

    def _finish_run(self, workflow_name: str, arn: str, events: list[StepEvent]) -> RunResult:
        self._backstop(arn)
        record = self.result_record(workflow_name, arn)
        path = self.results_dir / workflow_name / f"{record['executionName']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        skipped = self.fast_forward.skipped_seconds if self.fast_forward else 0.0
        return RunResult(execution_arn=arn, record=record, record_path=path, events=events, skipped_seconds=skipped)

    # ------------------------------------------------------------------ used by the HTTP API (stepgraph serve)

    def add_workflow(self, workflow: Any) -> str:
        """Add a validated workflow that is not in the project's files and create its state machine.

        Used by ``POST /api/workflows``; the project's own workflows are deployed by :meth:`deploy`.

        Raises
        ------
        EngineError
            When a workflow of that name exists, or it needs a handler the project lacks.
        """
        from dataclasses import replace
        from types import MappingProxyType

        if workflow.name in self.project.workflows:
            raise EngineError(f"workflow '{workflow.name}' exists already")
        self.project = replace(self.project, workflows=MappingProxyType({**self.project.workflows, workflow.name: workflow}))
        return self.deploy(workflow.name)

    def cancel(self, execution_arn: str, cause: str) -> None:
        """Stop an execution (``StopExecution``) and record it as cancelled (see :meth:`_stop`)."""
        self._stop(execution_arn, cause)

    def deliver_chain_messages(self) -> list[str]:
        """Hand waiting results-topic deliveries to the chain handler; return the executions it started."""
        return self._deliver_chain_messages()
