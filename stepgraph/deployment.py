"""A deployed stepgraph app: its stack outputs, and what a person does with them (SPEC §8, §11).

``cdk deploy --all`` creates three stacks, ``<prefix>Results``, ``<prefix>Agents`` and
``<prefix>Workflows`` (prefix: ``cdk.json`` context ``stepgraph:stackPrefix``, default
``Stepgraph``). Their outputs name every resource a caller needs; :func:`load_deployment` reads
them into a :class:`Deployment`, and the functions below use it:

* :func:`write_act_state` writes the Nova Act CLI's deployment state file, so existing Nova Act
  invocation code finds each runtime's ARN unchanged (SPEC §11);
* :func:`invoke_workflow` starts a state machine, follows it to its end and returns its result
  record (SPEC §5);
* :func:`invoke_agent_runtime` calls one agent's AgentCore runtime, decoding the answer exactly
  as ``lambdas/invoke_agent`` does (SPEC §6);
* :func:`recent_logs` reads a workflow's or an agent's recent CloudWatch log events.

boto3 is imported inside the functions: the core stays importable without it. AWS errors are
converted at this edge into :class:`DeploymentError` subclasses whose message says how to fix
the problem (missing credentials, missing region, access denied, stack not deployed …).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import sys
import tempfile
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Callable, Iterator, Mapping

from .compiler import result_key
from .exceptions import StepgraphError

__all__ = [
    "ACT_STATE_VERSION",
    "ActStateError",
    "ActStateWarning",
    "AgentInvocationError",
    "AwsCallError",
    "CredentialsError",
    "Deployment",
    "DeploymentError",
    "ExecutionWaitTimeoutError",
    "InvokerUnavailableError",
    "LogGroupNotFoundError",
    "NotDeployedError",
    "RegionError",
    "UnknownAgentError",
    "UnknownTargetError",
    "UnknownWorkflowError",
    "act_state_path",
    "aws_error",
    "execution_status",
    "invoke_agent_runtime",
    "invoke_workflow",
    "load_deployment",
    "new_session_id",
    "recent_logs",
    "stack_names",
    "write_act_state",
]

#: Schema version of the Nova Act CLI's state file (FIELD-NOTES "Nova Act").
ACT_STATE_VERSION = "1.0"
#: The endpoint every AgentCore runtime has; its log group is named after it.
RUNTIME_ENDPOINT = "DEFAULT"
#: Step Functions' execution statuses → stepgraph statuses (SPEC §7).
_STATUSES = {
    "RUNNING": "running",
    "PENDING_REDRIVE": "running",
    "SUCCEEDED": "completed",
    "FAILED": "failed",
    "ABORTED": "cancelled",
    "TIMED_OUT": "timeout",
}
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
#: The six error codes of SPEC §7 (``stepgraph.errors.ErrorCode``).
_ERROR_CODES = frozenset({"VALIDATION_ERROR", "AGENT_ERROR", "TOOL_ERROR", "TIMEOUT", "APPROVAL_REJECTED", "RATE_LIMIT"})
#: Stack statuses whose outputs cannot be trusted (creation failed, stack gone or going).
_UNUSABLE_STACK_STATUSES = frozenset({
    "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE", "REVIEW_IN_PROGRESS",
})
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_RATE_LIMIT_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})
_DEPLOY_HINT = "run `npx cdk deploy --all` first"
_CREDENTIALS_HINT = "no AWS credentials: run `aws configure` or set AWS_PROFILE"
_REGION_HINT = "no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION (or a region in your AWS profile)"


# --------------------------------------------------------------------------- errors


class DeploymentError(StepgraphError):
    """Base class of the errors about a deployed app; each message says how to fix it."""


class NotDeployedError(DeploymentError):
    """A stack of the app does not exist (or failed) in the region.

    Attributes
    ----------
    stacks:
        The stack names that are missing or unusable.
    region:
        The region that was searched.
    """

    def __init__(self, message: str, *, stacks: tuple[str, ...] = (), region: str | None = None) -> None:
        super().__init__(message)
        self.stacks = stacks
        self.region = region


class _UnknownNameError(DeploymentError):
    kind = "name"

    def __init__(self, name: str, deployed: Mapping[str, Any] | tuple[str, ...], *, stack: str = "") -> None:
        self.name = name
        self.deployed = tuple(sorted(deployed))
        listed = ", ".join(self.deployed) if self.deployed else "none"
        where = f" in stack {stack}" if stack else ""
        super().__init__(f"no deployed {self.kind} {name!r}{where} (deployed: {listed}); "
                         "deploy it with `npx cdk deploy --all` or check the --prefix and --region")


class UnknownWorkflowError(_UnknownNameError):
    """No state machine is deployed for that workflow name. ``name`` and ``deployed`` say which."""

    kind = "workflow"


class UnknownAgentError(_UnknownNameError):
    """No AgentCore runtime is deployed for that agent id. ``name`` and ``deployed`` say which."""

    kind = "agent"


class UnknownTargetError(DeploymentError):
    """A log target is neither a deployed workflow nor a deployed agent, or it is both."""


class CredentialsError(DeploymentError):
    """boto3 found no AWS credentials."""


class RegionError(DeploymentError):
    """boto3 found no AWS region."""


class AwsCallError(DeploymentError):
    """An AWS API call failed.

    Attributes
    ----------
    operation:
        The API operation (``StartExecution`` …).
    aws_code:
        AWS's error code (``AccessDeniedException`` …).
    """

    def __init__(self, message: str, *, operation: str | None = None, aws_code: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.aws_code = aws_code


class ExecutionWaitTimeoutError(DeploymentError):
    """An execution did not end within ``timeout_seconds``; it keeps running. ``execution_arn`` names it."""

    def __init__(self, message: str, *, execution_arn: str) -> None:
        super().__init__(message)
        self.execution_arn = execution_arn


class AgentInvocationError(DeploymentError):
    """An agent runtime call failed.

    Attributes
    ----------
    code:
        The stepgraph error code (SPEC §7): ``AGENT_ERROR``, ``RATE_LIMIT``, ``TIMEOUT`` or
        ``VALIDATION_ERROR``.
    aws_code:
        AWS's error code, when the failure came from AWS.
    """

    def __init__(self, message: str, *, code: str = "AGENT_ERROR", aws_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.aws_code = aws_code


class InvokerUnavailableError(DeploymentError):
    """``lambdas/invoke_agent/handler.py`` (the response decoder) cannot be found or imported."""


class LogGroupNotFoundError(DeploymentError):
    """The log group of a target does not exist (yet)."""


class ActStateError(DeploymentError):
    """The Nova Act CLI's existing state file cannot be read; it is left untouched."""


class ActStateWarning(UserWarning):
    """An agent was left out of the Nova Act CLI's state file (see the message)."""


def aws_error(exc: BaseException, action: str = "") -> DeploymentError | None:
    """Convert a botocore exception to a :class:`DeploymentError` that says how to fix it.

    Parameters
    ----------
    exc:
        Any exception.
    action:
        What was being done, for the message (``"reading stack StepgraphWorkflows"``).

    Returns
    -------
    DeploymentError or None
        ``None`` when ``exc`` is not a botocore exception (let it propagate unchanged).

    Examples
    --------
    >>> from botocore.exceptions import NoCredentialsError
    >>> str(aws_error(NoCredentialsError()))
    'no AWS credentials: run `aws configure` or set AWS_PROFILE'
    """
    try:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )
    except ImportError:  # pragma: no cover - boto3 is a dependency of every caller
        return None
    doing = f"{action}: " if action else ""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return CredentialsError(_CREDENTIALS_HINT)
    if isinstance(exc, NoRegionError):
        return RegionError(_REGION_HINT)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = error.get("Message") or str(exc)
        operation = getattr(exc, "operation_name", None)
        text = f"{doing}{operation or 'AWS call'} failed ({code}): {message}"
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"):
            text += "; refresh your credentials (`aws sso login`, or a new session token)"
        elif code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            text += "; the caller's IAM identity needs that permission"
        return AwsCallError(text, operation=operation, aws_code=code)
    if isinstance(exc, EndpointConnectionError):
        return AwsCallError(f"{doing}cannot reach AWS ({exc}); check the network and the --region", aws_code=type(exc).__name__)
    if isinstance(exc, BotoCoreError):
        return AwsCallError(f"{doing}{type(exc).__name__}: {exc}", aws_code=type(exc).__name__)
    return None


@contextmanager
def _aws(action: str = "") -> Iterator[None]:
    """Turn botocore exceptions raised in the block into :class:`DeploymentError`."""
    try:
        yield
    except DeploymentError:
        raise
    except Exception as exc:
        converted = aws_error(exc, action)
        if converted is None:
            raise
        raise converted from exc


def _client(service: str, region: str | None, client: Any = None, **kwargs: Any) -> Any:
    if client is not None:
        return client
    import boto3

    # botocore reads AWS_DEFAULT_REGION and the profile; the AWS CLI v2 and Lambda also use AWS_REGION.
    region = region or os.environ.get("AWS_REGION") or None
    with _aws():
        return boto3.client(service, region_name=region, **kwargs)


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


# --------------------------------------------------------------------------- names


def _pascal(name: str) -> str:
    """PascalCase of a name, as ``stacks.naming.pascal`` builds output ids (kept in step by a test)."""
    return "".join(part[:1].upper() + part[1:] for part in _SEPARATORS.split(name) if part)


def stack_names(prefix: str = "Stepgraph") -> tuple[str, str, str]:
    """The app's stack names: ``(<prefix>Results, <prefix>Agents, <prefix>Workflows)``."""
    return f"{prefix}Results", f"{prefix}Agents", f"{prefix}Workflows"


def _arn_resource(arn: str) -> str:
    """Everything after the fifth ``:`` of an ARN (``stateMachine:Name``, ``runtime/id`` …)."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 else ""


def _runtime_id(arn: str) -> str:
    """The runtime id of a runtime ARN: ``runtime/<id>`` → ``<id>`` (e.g. ``support_agent-AbCd123456``)."""
    resource = _arn_resource(arn)
    return resource.split("/", 1)[1] if resource.startswith("runtime/") else ""


def _agent_id_of(runtime_arn: str) -> str | None:
    """An agent id from its runtime ARN: the runtime id before its last ``-`` (ids hold no ``-``)."""
    runtime_id = _runtime_id(runtime_arn)
    return runtime_id.rsplit("-", 1)[0] if "-" in runtime_id else None


def _state_machine_name(arn: str) -> str:
    resource = _arn_resource(arn)
    return resource.split(":", 1)[1] if resource.startswith("stateMachine:") else ""


def _match_names(outputs: Mapping[str, str], key_prefix: str, known: tuple[str, ...],
                 from_value: Callable[[str], str | None]) -> dict[str, str]:
    """Map outputs ``<key_prefix><Pascal name>`` back to names.

    The name read from the value (the ARN) wins when ``<key_prefix><pascal(name)>`` agrees with
    the output key; otherwise a known name (from the project) whose Pascal form matches the key;
    otherwise the name read from the value; otherwise the key's own suffix.
    """
    by_pascal: dict[str, list[str]] = {}
    for name in known:
        by_pascal.setdefault(_pascal(name), []).append(name)
    mapped: dict[str, str] = {}
    for key, value in sorted(outputs.items()):
        if not key.startswith(key_prefix) or len(key) == len(key_prefix):
            continue
        suffix = key[len(key_prefix):]
        parsed = from_value(value)
        candidates = by_pascal.get(suffix, [])
        if parsed and _pascal(parsed) == suffix:
            name = parsed
        elif len(candidates) == 1:
            name = candidates[0]
        else:
            name = parsed or suffix
        mapped[name] = value
    return mapped


# --------------------------------------------------------------------------- the deployment


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Deployment:
    """What ``cdk deploy --all`` created, read from the stacks' outputs.

    Attributes
    ----------
    state_machines:
        State machine ARN by workflow name (outputs ``StateMachineArn<Pascal name>``).
    runtimes:
        AgentCore runtime ARN by agent id (outputs ``AgentRuntimeArn<Pascal id>``).
    results_bucket:
        The results bucket (``ResultsBucketName``).
    results_topic_arn:
        The results topic (``ResultsTopicArn``).
    approvals_table, approvals_topic_arn:
        The approvals table and topic (``ApprovalsTableName``, ``ApprovalsTopicArn``);
        ``None`` when no deployed workflow has a ``human_approval`` step.
    account, region:
        Where the stacks live.
    prefix:
        The stack prefix.
    workflow_definition_arns:
        Nova Act workflow definition ARN by agent id (outputs ``WorkflowDefinitionArn<Pascal id>``),
        empty until the stacks export them.
    image_uris, image_tags:
        Agent image URI and tag by agent id (outputs ``ImageUri<Pascal id>`` /
        ``AgentImageUri<Pascal id>``, ``ImageTag<Pascal id>`` / ``AgentImageTag<Pascal id>``), empty
        until the stacks export them.
    outputs:
        Every output, by stack name then output key.
    """

    state_machines: Mapping[str, str]
    runtimes: Mapping[str, str]
    results_bucket: str
    results_topic_arn: str
    approvals_table: str | None
    approvals_topic_arn: str | None
    account: str
    region: str
    prefix: str = "Stepgraph"
    workflow_definition_arns: Mapping[str, str] = field(default_factory=dict)
    image_uris: Mapping[str, str] = field(default_factory=dict)
    image_tags: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("state_machines", "runtimes", "workflow_definition_arns", "image_uris", "image_tags", "outputs"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def state_machine_arn(self, workflow_name: str) -> str:
        """The state machine ARN of a workflow.

        Raises
        ------
        UnknownWorkflowError
            Listing the deployed workflows.
        """
        try:
            return self.state_machines[workflow_name]
        except KeyError:
            raise UnknownWorkflowError(workflow_name, tuple(self.state_machines), stack=stack_names(self.prefix)[2]) from None

    def runtime_arn(self, agent_id: str) -> str:
        """The AgentCore runtime ARN of an agent.

        Raises
        ------
        UnknownAgentError
            Listing the deployed agents.
        """
        try:
            return self.runtimes[agent_id]
        except KeyError:
            raise UnknownAgentError(agent_id, tuple(self.runtimes), stack=stack_names(self.prefix)[1]) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json``)."""
        return {
            "prefix": self.prefix, "account": self.account, "region": self.region,
            "state_machines": dict(self.state_machines), "runtimes": dict(self.runtimes),
            "results_bucket": self.results_bucket, "results_topic_arn": self.results_topic_arn,
            "approvals_table": self.approvals_table, "approvals_topic_arn": self.approvals_topic_arn,
            "workflow_definition_arns": dict(self.workflow_definition_arns),
            "image_uris": dict(self.image_uris), "image_tags": dict(self.image_tags),
        }


def _describe_stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """The stack's description, or ``None`` when it does not exist."""
    from botocore.exceptions import ClientError

    with _aws(f"reading stack {name}"):
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if _error_code(exc) == "ValidationError" and "does not exist" in message:
                return None
            raise
    return stacks[0] if stacks else None


def load_deployment(prefix: str = "Stepgraph", *, cloudformation: Any = None, project: Any = None,
                    region: str | None = None) -> Deployment:
    """Read the deployed app from its three stacks' outputs.

    Names are mapped back from the outputs robustly: a state machine's name is
    ``<prefix>-<workflow name>`` (the last segment of its ARN), a runtime's ARN ends with
    ``runtime/<agent id>-<suffix>``; when ``project`` is given, its workflow names and agent ids
    resolve outputs whose ARN does not parse.

    Parameters
    ----------
    prefix:
        The stack prefix (``cdk.json`` context ``stepgraph:stackPrefix``). Default ``"Stepgraph"``.
    cloudformation:
        A boto3 CloudFormation client; default one for ``region``.
    project:
        Optional :class:`stepgraph.Project` (or anything with ``workflows`` and ``agents``
        mappings) whose names help the mapping.
    region:
        AWS region when no client is given; default boto3's (``AWS_REGION``, profile …).

    Returns
    -------
    Deployment

    Raises
    ------
    NotDeployedError
        When a stack is missing or failed, naming it and the region.
    DeploymentError
        When a stack lacks an output this module needs, or an AWS call fails
        (``CredentialsError``, ``RegionError``, ``AwsCallError``).

    Examples
    --------
    >>> deployment = load_deployment("Stepgraph", region="us-east-1")  # doctest: +SKIP
    >>> deployment.state_machine_arn("customer-support")  # doctest: +SKIP
    'arn:aws:states:us-east-1:123456789012:stateMachine:Stepgraph-customer-support'
    """
    cloudformation = _client("cloudformation", region, cloudformation)
    region = cloudformation.meta.region_name
    names = stack_names(prefix)
    found: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for name in names:
        stack = _describe_stack(cloudformation, name)
        if stack is None or stack.get("StackStatus") in _UNUSABLE_STACK_STATUSES:
            missing.append(name if stack is None else f"{name} ({stack.get('StackStatus')})")
        else:
            found[name] = stack
    if missing:
        what = "stack" if len(missing) == 1 else "stacks"
        raise NotDeployedError(f"{what} {', '.join(missing)} not found in {region}: {_DEPLOY_HINT} "
                               f"(or pass the right --prefix/--region)", stacks=tuple(missing), region=region)
    outputs = {name: {o["OutputKey"]: o.get("OutputValue", "") for o in found[name].get("Outputs", [])} for name in names}
    results, agents, workflows = (outputs[n] for n in names)
    stack_arn = found[names[2]].get("StackId", "")
    account = stack_arn.split(":")[4] if stack_arn.count(":") >= 5 else ""

    def need(stack: str, key: str) -> str:
        value = outputs[stack].get(key)
        if not value:
            raise DeploymentError(f"stack {stack} has no output {key}; it was deployed by another version of "
                                  "stepgraph: redeploy with `npx cdk deploy --all`")
        return value

    known_workflows = tuple(getattr(project, "workflows", {}) or ()) if project is not None else ()
    known_agents = tuple(getattr(project, "agents", {}) or ()) if project is not None else ()
    runtimes = _match_names(agents, "AgentRuntimeArn", known_agents, _agent_id_of)
    # Per-agent outputs other than the runtime ARN carry no agent id in their value: match their
    # key against every agent known from the project or from the runtimes.
    known_agents = tuple(sorted(set(known_agents) | set(runtimes)))
    every = {**agents, **workflows, **results}

    def workflow_of(arn: str) -> str | None:
        name = _state_machine_name(arn)
        return name[len(prefix) + 1:] if prefix and name.startswith(f"{prefix}-") else (name or None)

    def no_name(value: str) -> str | None:  # these outputs' values (image URIs …) do not name the agent
        return None

    images = {**_match_names(every, "AgentImageUri", known_agents, no_name), **_match_names(every, "ImageUri", known_agents, no_name)}
    tags = {**_match_names(every, "AgentImageTag", known_agents, no_name), **_match_names(every, "ImageTag", known_agents, no_name)}
    for agent_id, uri in images.items():
        tail = uri.rsplit("/", 1)[-1]
        if agent_id not in tags and ":" in tail and "@" not in tail:
            tags[agent_id] = tail.rsplit(":", 1)[1]
    return Deployment(
        state_machines=_match_names(workflows, "StateMachineArn", known_workflows, workflow_of),
        runtimes=runtimes,
        results_bucket=need(names[0], "ResultsBucketName"),
        results_topic_arn=need(names[0], "ResultsTopicArn"),
        approvals_table=workflows.get("ApprovalsTableName") or None,
        approvals_topic_arn=workflows.get("ApprovalsTopicArn") or None,
        account=account,
        region=region,
        prefix=prefix,
        workflow_definition_arns=_match_names(every, "WorkflowDefinitionArn", known_agents, no_name),
        image_uris=images,
        image_tags=tags,
        outputs=outputs,
    )


# --------------------------------------------------------------------------- Nova Act CLI state


def act_state_path(account: str, region: str, *, home: Path | None = None) -> Path:
    """``<home>/.act_cli/state/<account>/<region>/workflows.json`` (FIELD-NOTES "Nova Act")."""
    return Path(home if home is not None else Path.home()) / ".act_cli" / "state" / account / region / "workflows.json"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _read_act_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"workflows": {}, "last_updated": None, "version": ACT_STATE_VERSION}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActStateError(f"{path} is not a readable JSON document ({exc}); it was left untouched: "
                            "fix it or move it away, then run `stepgraph deploy-state` again") from exc
    if not isinstance(state, dict) or not isinstance(state.get("workflows", {}), dict):
        raise ActStateError(f"{path} does not hold {{\"workflows\": {{...}}}}; it was left untouched: "
                            "fix it or move it away, then run `stepgraph deploy-state` again")
    state.setdefault("workflows", {})
    return state


def _written_by_stepgraph(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("metadata"), dict) and entry["metadata"].get("source") == "stepgraph"


def write_act_state(deployment: Deployment, project: Any, *, home: Path | None = None, now: datetime | None = None,
                    include_python_agents: bool = True) -> Path:
    """Write the Nova Act CLI's deployment state file for the deployed agents.

    The file is ``~/.act_cli/state/<account>/<region>/workflows.json``, schema version ``"1.0"``::

        {"workflows": {"<name>": {"name", "directory_path", "created_at", "workflow_definition_arn",
                                  "deployments": {"agentcore": {"deployment_arn", "image_uri", "image_tag"}},
                                  "metadata", "last_image_tag"}},
         "last_updated", "version": "1.0"}

    so that Nova Act invocation code, which reads
    ``state["workflows"][name]["deployments"]["agentcore"]["deployment_arn"]``, finds each
    runtime's ARN unchanged.

    Which entries are written:

    * every deployed agent of kind ``nova_act``, keyed by its ``nova_act.workflow_definition_name``
      (the name Nova Act code already uses, e.g. ``"getting-started-workflow"``); an entry of that
      name is replaced, whoever wrote it: the workflow is now deployed by stepgraph;
    * with ``include_python_agents`` (the default), every other deployed agent keyed by its agent
      id, so the same invocation helper reaches any agent of the app. Such an entry never displaces
      an entry stepgraph did not write (one made by ``act`` itself, say): that agent is left out
      with an :class:`ActStateWarning`. A Nova Act entry wins over a python agent of the same name.

    Everything else in the file is kept. ``created_at`` of an entry that existed is kept;
    ``metadata`` records ``{"source": "stepgraph", "agent_id", "kind", "stack_prefix"}``. The
    file is written atomically (a temporary file in the same folder, then ``os.replace``).

    Parameters
    ----------
    deployment:
        From :func:`load_deployment` (gives account, region, runtime ARNs, and the optional
        workflow definition ARNs and image URIs/tags; absent ones are written as ``null``).
    project:
        The project (anything with an ``agents`` mapping of :class:`stepgraph.AgentSpec`): kinds,
        Nova Act names and folders. Agents that are not deployed are left out with a warning.
    home:
        The home folder; default ``Path.home()``.
    now:
        Timestamp of the update; default the current UTC time.
    include_python_agents:
        Also write non-Nova-Act agents, keyed by agent id. Default ``True``.

    Returns
    -------
    Path
        The state file.

    Raises
    ------
    ActStateError
        When the existing file is not valid JSON of the expected shape (it is left untouched).

    Examples
    --------
    >>> path = write_act_state(load_deployment(), load_project("."))  # doctest: +SKIP
    >>> json.loads(path.read_text())["workflows"]["getting-started-workflow"]["deployments"]["agentcore"]["deployment_arn"]  # doctest: +SKIP
    'arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/getting_started-AbCdEf1234'
    """
    moment = _iso(now or datetime.now(timezone.utc))
    path = act_state_path(deployment.account, deployment.region, home=home)
    state = _read_act_state(path)
    workflows: dict[str, Any] = state["workflows"]
    agents = dict(getattr(project, "agents", {}) or {})
    entries: dict[str, dict[str, Any]] = {}
    nova_names: set[str] = set()
    ordered = sorted(agents.values(), key=lambda a: (a.kind != "nova_act", a.agent_id))
    for spec in ordered:
        arn = deployment.runtimes.get(spec.agent_id)
        if not arn:
            warnings.warn(ActStateWarning(f"agent {spec.agent_id!r} has no deployed runtime in {deployment.region}; "
                                          "left out (deploy it with `npx cdk deploy --all`)"), stacklevel=2)
            continue
        if spec.kind == "nova_act" and spec.nova_act is not None:
            name = spec.nova_act.workflow_definition_name
            nova_names.add(name)
        else:
            if not include_python_agents:
                continue
            name = spec.agent_id
            if name in nova_names:
                warnings.warn(ActStateWarning(f"agent {name!r} shares its name with a Nova Act workflow; left out"), stacklevel=2)
                continue
            if name in workflows and not _written_by_stepgraph(workflows[name]):
                warnings.warn(ActStateWarning(f"{path} already has a workflow {name!r} that stepgraph did not write; "
                                              f"agent {name!r} left out so that entry keeps working"), stacklevel=2)
                continue
        previous = workflows.get(name) if isinstance(workflows.get(name), dict) else {}
        tag = deployment.image_tags.get(spec.agent_id)
        entries[name] = {
            "name": name,
            "directory_path": str(spec.path),
            "created_at": previous.get("created_at") or moment,
            "workflow_definition_arn": deployment.workflow_definition_arns.get(spec.agent_id),
            "deployments": {"agentcore": {
                "deployment_arn": arn,
                "image_uri": deployment.image_uris.get(spec.agent_id),
                "image_tag": tag,
            }},
            "metadata": {"source": "stepgraph", "agent_id": spec.agent_id, "kind": spec.kind,
                         "stack_prefix": deployment.prefix},
            "last_image_tag": tag,
        }
    workflows.update(entries)
    state["last_updated"] = moment
    state["version"] = ACT_STATE_VERSION
    _write_atomically(path, json.dumps(state, indent=2, ensure_ascii=False) + "\n")
    return path


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- workflows


def execution_status(sfn_status: str) -> str:
    """A Step Functions execution status as a stepgraph status (SPEC §7).

    Examples
    --------
    >>> execution_status("ABORTED")
    'cancelled'
    """
    return _STATUSES.get(sfn_status, sfn_status.lower())


def _execution_name() -> str:
    return f"cli-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def _session_of(execution_input: Any, execution_name: str) -> str:
    if isinstance(execution_input, dict):
        for key in ("session_id", "sessionId"):
            if execution_input.get(key) is not None:
                return str(execution_input[key])
    return execution_name


def _synthesized_record(workflow_name: str, description: dict[str, Any], execution_input: Any, uri: str,
                        reason: str) -> dict[str, Any]:
    """A result record made from DescribeExecution when the execution wrote none."""
    status = description.get("status", "")
    output = description.get("output")
    if status == "SUCCEEDED" and output:
        try:
            record = json.loads(output)
        except ValueError:
            record = None
        if isinstance(record, dict) and "status" in record and "executionArn" in record:
            return {**record, "synthesized": True, "note": f"no result record at {uri} ({reason}); "
                    "this record is the execution's output, read with DescribeExecution"}
    # The same codes as lambdas/record_backstop's record_for, so a record looks alike whoever made it.
    error, cause = description.get("error"), description.get("cause")
    if status == "ABORTED":
        code, cause = "CANCELLED", cause or "the execution was stopped"
    elif status == "TIMED_OUT":
        code, cause = "TIMEOUT", cause or "the execution exceeded its time-out"
    elif error in _ERROR_CODES:
        code, cause = error, cause or error
    else:
        code, cause = "AGENT_ERROR", f"{error}: {cause}" if error else (cause or "the execution failed")
    started, stopped = description.get("startDate"), description.get("stopDate")
    return {
        "executionArn": description.get("executionArn"),
        "executionName": description.get("name"),
        "workflowName": workflow_name,
        "sessionId": _session_of(execution_input, description.get("name", "")),
        "status": "completed" if status == "SUCCEEDED" else "failed",
        "result": None,
        "error": None if status == "SUCCEEDED" else {"code": code, "message": f"{cause} (no result record at {uri}: {reason}; "
                                                                                 "this record was made by stepgraph from DescribeExecution)",
                                                       "step": None},
        "startedAt": started.isoformat() if isinstance(started, datetime) else started,
        "completedAt": stopped.isoformat() if isinstance(stopped, datetime) else stopped,
        "executionStatus": execution_status(status),
        "synthesized": True,
    }


def invoke_workflow(deployment: Deployment, workflow_name: str, execution_input: Any, *, name: str | None = None,
                    stepfunctions: Any = None, s3: Any = None, poll_seconds: float = 1.0,
                    timeout_seconds: float | None = None,
                    on_status: Callable[[str, dict[str, Any]], None] | None = None,
                    record_wait_seconds: float = 10.0) -> dict[str, Any]:
    """Start a deployed workflow, follow it to its end and return its result record (SPEC §5).

    Parameters
    ----------
    deployment:
        From :func:`load_deployment`.
    workflow_name:
        The workflow's name (not the state machine's).
    execution_input:
        The execution input (any JSON value; usually the seed's ``{"trigger", "session_id", ...}``).
    name:
        The execution name; default ``cli-<UTC yyyymmddThhmmss>-<8 hex digits>``.
    stepfunctions, s3:
        boto3 clients; default ones for ``deployment.region``.
    poll_seconds:
        Longest pause between two ``DescribeExecution`` calls: the first pauses are shorter
        (0.25 s, doubling up to ``poll_seconds``) so short executions return quickly. Default ``1.0``.
    timeout_seconds:
        Stop waiting after this many seconds (the execution keeps running). Default: wait until it ends.
    on_status:
        Called as ``on_status(status, description)`` each time the status changes (the first
        time included); ``status`` is a stepgraph status (``running``, ``completed``, ``failed``,
        ``cancelled``, ``timeout``), ``description`` the ``DescribeExecution`` answer.
    record_wait_seconds:
        After an ending the state machine cannot record itself (``ABORTED``, ``TIMED_OUT``, an
        uncatchable ``FAILED``), ``lambdas/record_backstop`` writes the record a few seconds later
        (EventBridge delivery): wait this long for it before making one. Default ``10.0``.

    Returns
    -------
    dict
        The result record read from ``s3://<bucket>/results/<workflow>/<execution>.json``. When
        there is none (the execution was stopped or timed out before recording, and no backstop
        record came in time), a record made from ``DescribeExecution`` with ``status: failed``,
        ``error.code`` as the backstop gives it (``CANCELLED`` for ``ABORTED``, ``TIMEOUT`` for
        ``TIMED_OUT``, the error when it is one of the six codes, else ``AGENT_ERROR``),
        ``executionStatus`` (the stepgraph status) and ``synthesized: true``; its
        ``error.message`` says it was made from ``DescribeExecution``.

    Raises
    ------
    UnknownWorkflowError
        When the workflow is not deployed.
    ExecutionWaitTimeoutError
        When ``timeout_seconds`` passed first.
    AwsCallError, CredentialsError
        When an AWS call fails.

    Examples
    --------
    >>> record = invoke_workflow(load_deployment(), "customer-support",
    ...                          {"trigger": {"kind": "chat", "current_message": "Where is ORD-1003?"}})  # doctest: +SKIP
    >>> record["status"]  # doctest: +SKIP
    'completed'
    """
    arn = deployment.state_machine_arn(workflow_name)
    stepfunctions = _client("stepfunctions", deployment.region, stepfunctions)
    s3 = _client("s3", deployment.region, s3)
    execution_name = name or _execution_name()
    from botocore.exceptions import ClientError

    with _aws(f"starting workflow {workflow_name}"):
        try:
            started = stepfunctions.start_execution(stateMachineArn=arn, name=execution_name,
                                                    input=json.dumps(execution_input, ensure_ascii=False))
        except ClientError as exc:
            if _error_code(exc) == "ExecutionAlreadyExists":
                raise AwsCallError(f"workflow {workflow_name} already has an execution named {execution_name!r}: "
                                   "choose another --name", operation="StartExecution", aws_code="ExecutionAlreadyExists") from exc
            raise
    execution_arn = started["executionArn"]
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    last = None
    pause = min(0.25, poll_seconds)
    while True:
        with _aws(f"following execution {execution_arn}"):
            description = stepfunctions.describe_execution(executionArn=execution_arn)
        status = description["status"]
        if status != last:
            last = status
            if on_status is not None:
                on_status(execution_status(status), description)
        if status in _TERMINAL:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise ExecutionWaitTimeoutError(
                f"execution {execution_arn} still {status} after {timeout_seconds:g} s; it keeps running: "
                f"follow it in the Step Functions console, or read s3://{deployment.results_bucket}/"
                f"{result_key(workflow_name, execution_name)} once it ends", execution_arn=execution_arn)
        time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(poll_seconds, pause * 2)

    key = result_key(workflow_name, description.get("name", execution_name))
    uri = f"s3://{deployment.results_bucket}/{key}"
    # A succeeded execution recorded before ending; other endings may get the backstop's record late.
    record_deadline = time.monotonic() + (0.0 if status == "SUCCEEDED" else record_wait_seconds)
    pause = min(0.25, poll_seconds)
    while True:
        with _aws(f"reading the result record {uri}"):
            try:
                body = s3.get_object(Bucket=deployment.results_bucket, Key=key)["Body"].read()
                break
            except ClientError as exc:
                code = _error_code(exc)
                # Without s3:ListBucket, S3 answers a missing key with 403: missing only for endings
                # that may well lack a record.
                missing = code in ("NoSuchKey", "404") or (code in ("AccessDenied", "403") and status in ("ABORTED", "TIMED_OUT"))
                if not missing:
                    raise
        if time.monotonic() >= record_deadline:
            return _synthesized_record(workflow_name, description, execution_input, uri, f"the execution ended {status}")
        time.sleep(max(0.0, min(pause, record_deadline - time.monotonic())))
        pause = min(poll_seconds, pause * 2)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise DeploymentError(f"{uri} is not JSON ({exc})") from exc


# --------------------------------------------------------------------------- agents


_HANDLER_MODULE = "stepgraph_deployed_invoke_agent"


def _invoker_module(root: Path | None = None) -> ModuleType:
    """``lambdas/invoke_agent/handler.py``, imported by path (the single decoder of agent answers)."""
    if _HANDLER_MODULE in sys.modules:
        return sys.modules[_HANDLER_MODULE]
    relative = Path("lambdas") / "invoke_agent" / "handler.py"
    candidates = [Path(root) / relative] if root is not None else []
    candidates.append(Path(__file__).resolve().parents[1] / relative)  # a checkout or an editable install
    here = Path.cwd().resolve()
    candidates += [folder / relative for folder in (here, *here.parents)]
    handler = next((c for c in candidates if c.is_file()), None)
    if handler is None:
        raise InvokerUnavailableError(
            "cannot find lambdas/invoke_agent/handler.py (the decoder of agent answers): run stepgraph from the "
            "project checkout, or install it from there with `pip install -e '.[local]'`")
    spec = importlib.util.spec_from_file_location(_HANDLER_MODULE, handler)
    if spec is None or spec.loader is None:  # pragma: no cover - a file path always has a loader
        raise InvokerUnavailableError(f"cannot import {handler}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise InvokerUnavailableError(f"{handler} needs {exc.name or exc}: install stepgraph with "
                                      "`pip install -e '.[local]'`") from exc
    for name in ("decode_response", "runtime_session_id", "InvokeAgentError"):
        if not hasattr(module, name):
            raise InvokerUnavailableError(f"{handler} has no {name}(); it is older or newer than this stepgraph")
    sys.modules[_HANDLER_MODULE] = module
    return module


def new_session_id() -> str:
    """A fresh runtime session id: ``stepgraph-cli-<uuid4>`` (50 characters, within AgentCore's 33–256)."""
    return f"stepgraph-cli-{uuid.uuid4()}"


def _region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def invoke_agent_runtime(deployment_or_arn: Deployment | str, payload: Any, *, agent_id: str | None = None,
                         session_id: str | None = None, qualifier: str = RUNTIME_ENDPOINT, client: Any = None) -> Any:
    """Invoke an agent's AgentCore runtime and return its decoded answer (SPEC §6).

    The call is the seed's ``invoke_agent_runtime(agentRuntimeArn, runtimeSessionId, payload,
    qualifier)``; the answer is decoded by ``lambdas/invoke_agent``'s own ``decode_response``
    (imported by path, so a workflow step and this call see the same output): ``application/json``
    gives the JSON document, ``text/event-stream`` gives ``{"response": <joined text>, "events": [...]}``.

    Parameters
    ----------
    deployment_or_arn:
        A runtime ARN, or a :class:`Deployment` together with ``agent_id``.
    payload:
        Any JSON value (sent as UTF-8 JSON), or ``bytes`` sent as they are.
    agent_id:
        The agent, when ``deployment_or_arn`` is a deployment.
    session_id:
        A session id; it goes through the same rule as a workflow's ``session_id`` (kept when it is
        33–256 safe characters, else made so deterministically), so ``--session-id chat-42`` reaches
        the session a workflow run with ``session_id: chat-42`` used. Default :func:`new_session_id`.
    qualifier:
        The runtime endpoint. Default ``"DEFAULT"``.
    client:
        A boto3 ``bedrock-agentcore`` client; default one for the ARN's region (read timeout 900 s).

    Returns
    -------
    Any
        The agent's output.

    Raises
    ------
    UnknownAgentError
        When the agent is not deployed.
    AgentInvocationError
        With ``code`` ``RATE_LIMIT`` (throttled), ``AGENT_ERROR`` (runtime or container failure,
        access denied, malformed answer) or ``VALIDATION_ERROR`` (bad payload or session id).
    InvokerUnavailableError
        When ``lambdas/invoke_agent/handler.py`` cannot be found (stepgraph installed without the project).

    Examples
    --------
    >>> invoke_agent_runtime(load_deployment(), {"prompt": "hi"}, agent_id="support_agent")  # doctest: +SKIP
    {'response': '...'}
    """
    if isinstance(deployment_or_arn, Deployment):
        if not agent_id:
            raise ValueError("agent_id is required when invoking through a Deployment")
        arn = deployment_or_arn.runtime_arn(agent_id)
    else:
        arn = deployment_or_arn
    label = agent_id or _agent_id_of(arn) or arn
    handler = _invoker_module()
    try:
        session = handler.runtime_session_id(session_id or new_session_id())
    except handler.InvokeAgentError as exc:
        raise AgentInvocationError(str(exc), code="VALIDATION_ERROR") from exc
    if isinstance(payload, (bytes, bytearray)):
        body = bytes(payload)
    else:
        try:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise AgentInvocationError(f"payload is not JSON-serializable: {exc}", code="VALIDATION_ERROR") from exc
    if client is None:
        from botocore.config import Config

        client = _client("bedrock-agentcore", _region_of_arn(arn), None,
                         config=Config(read_timeout=900, connect_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"}))
    from botocore.exceptions import ClientError, ParamValidationError, ReadTimeoutError

    try:
        with _aws(f"invoking agent {label!r}"):
            try:
                response = client.invoke_agent_runtime(agentRuntimeArn=arn, runtimeSessionId=session, payload=body,
                                                       qualifier=qualifier, contentType="application/json")
                stream = response["response"]
                try:
                    output, _ = handler.decode_response(response.get("contentType"), stream)
                finally:
                    close = getattr(stream, "close", None)
                    if callable(close):
                        close()
            except ClientError as exc:
                code = _error_code(exc) or "Unknown"
                message = exc.response.get("Error", {}).get("Message") or str(exc)
                if code in _RATE_LIMIT_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 429:
                    raise AgentInvocationError(f"agent {label!r} was throttled ({code}): {message}; try again later",
                                               code="RATE_LIMIT", aws_code=code) from exc
                text = f"agent {label!r} failed ({code}): {message}"
                if code == "AccessDeniedException":
                    text += f"; the caller needs bedrock-agentcore:InvokeAgentRuntime on {arn} and on {arn}/*"
                raise AgentInvocationError(text, code="AGENT_ERROR", aws_code=code) from exc
            except ParamValidationError as exc:
                raise AgentInvocationError(f"agent {label!r}: {exc}", code="VALIDATION_ERROR") from exc
            except ReadTimeoutError as exc:
                raise AgentInvocationError(f"agent {label!r} did not answer in time: {exc}", code="TIMEOUT",
                                           aws_code=type(exc).__name__) from exc
    except handler.InvokeAgentError as exc:
        raise AgentInvocationError(f"agent {label!r}: {exc}", code=getattr(exc, "code", "AGENT_ERROR"),
                                   aws_code=getattr(exc, "aws_code", None)) from exc
    return output


# --------------------------------------------------------------------------- logs


def _log_group_name(arn: str) -> str:
    """``arn:aws:logs:<region>:<acct>:log-group:<name>:*`` → ``<name>``."""
    name = arn.split(":log-group:", 1)[1] if ":log-group:" in arn else arn
    return name[:-2] if name.endswith(":*") else name


def _log_group_of(target: str, deployment: Deployment, stepfunctions: Any = None) -> tuple[str, str]:
    """``(kind, log group name)`` of a workflow name or agent id (``workflow:``/``agent:`` disambiguate)."""
    kind, _, name = target.partition(":") if target.startswith(("workflow:", "agent:")) else ("", "", target)
    is_workflow = kind in ("", "workflow") and name in deployment.state_machines
    is_agent = kind in ("", "agent") and name in deployment.runtimes
    if is_workflow and is_agent:
        raise UnknownTargetError(f"{name!r} is both a workflow and an agent: say workflow:{name} or agent:{name}")
    if is_agent:
        return "agent", f"/aws/bedrock-agentcore/runtimes/{_runtime_id(deployment.runtimes[name])}-{RUNTIME_ENDPOINT}"
    if not is_workflow:
        raise UnknownTargetError(
            f"{target!r} is neither a deployed workflow ({', '.join(sorted(deployment.state_machines)) or 'none'}) "
            f"nor a deployed agent ({', '.join(sorted(deployment.runtimes)) or 'none'})")
    arn = deployment.state_machines[name]
    stepfunctions = _client("stepfunctions", deployment.region, stepfunctions)
    with _aws(f"reading the logging configuration of workflow {name}"):
        description = stepfunctions.describe_state_machine(stateMachineArn=arn)
    destinations = (description.get("loggingConfiguration") or {}).get("destinations") or []
    group_arn = ((destinations[0] if destinations else {}).get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
    if not group_arn:
        raise LogGroupNotFoundError(f"workflow {name}'s state machine logs nowhere (no loggingConfiguration); "
                                    "redeploy with `npx cdk deploy --all`")
    return "workflow", _log_group_name(group_arn)


def recent_logs(target: str, *, deployment: Deployment, since_seconds: float = 600, logs: Any = None,
                stepfunctions: Any = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recent log events of a deployed workflow or agent, oldest first (newest last).

    Parameters
    ----------
    target:
        A workflow name (its state machine's log group, read from ``DescribeStateMachine``'s
        ``loggingConfiguration``) or an agent id (``/aws/bedrock-agentcore/runtimes/<runtime
        id>-DEFAULT``). Prefix with ``workflow:`` or ``agent:`` when a name is both.
    deployment:
        From :func:`load_deployment`.
    since_seconds:
        How far back to read. Default ``600`` (10 minutes).
    logs, stepfunctions:
        boto3 clients; default ones for ``deployment.region``.
    limit:
        Keep at most the newest ``limit`` events. Default ``100``.

    Returns
    -------
    list[dict]
        ``{"timestamp": ISO-8601 UTC, "message", "log_stream"}``, newest last.

    Raises
    ------
    UnknownTargetError
        When the target is neither a deployed workflow nor a deployed agent (or ambiguous).
    LogGroupNotFoundError
        When the log group does not exist yet.

    Examples
    --------
    >>> for event in recent_logs("support_agent", deployment=load_deployment(), since_seconds=3600):  # doctest: +SKIP
    ...     print(event["timestamp"], event["message"])
    """
    kind, group = _log_group_of(target, deployment, stepfunctions)
    logs = _client("logs", deployment.region, logs)
    start = int((time.time() - since_seconds) * 1000)
    from botocore.exceptions import ClientError

    events: list[dict[str, Any]] = []
    with _aws(f"reading log group {group}"):
        try:
            paginator = logs.get_paginator("filter_log_events")
            for page in paginator.paginate(logGroupName=group, startTime=start):
                events += page.get("events", [])
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                hint = ("the runtime creates it at its first session: invoke the agent first"
                        if kind == "agent" else "redeploy with `npx cdk deploy --all`")
                raise LogGroupNotFoundError(f"log group {group} does not exist in {deployment.region}: {hint}") from exc
            raise
    events.sort(key=lambda e: (e.get("timestamp", 0), e.get("ingestionTime", 0)))
    kept = events[-limit:] if limit else events
    return [{
        "timestamp": datetime.fromtimestamp(e.get("timestamp", 0) / 1000, timezone.utc).isoformat(timespec="milliseconds"),
        "message": str(e.get("message", "")).rstrip("\n"),
        "log_stream": e.get("logStreamName"),
    } for e in kept]
