"""The deployed app's stack outputs (SPEC §8): :class:`Deployment`, :func:`load_deployment`, and the names in them.

``cdk deploy --all`` creates three stacks, ``<prefix>Results``, ``<prefix>Agents`` and
``<prefix>Workflows`` (prefix: ``cdk.json`` context ``stepgraph:stackPrefix``, default
``Stepgraph``). Their outputs name every resource a caller needs; :func:`load_deployment` reads
them into a :class:`Deployment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from stepgraph_runtime.agentcore import RUNTIME_ENDPOINT

from ..naming import pascal as _pascal
from .errors import DeploymentError, NotDeployedError, UnknownAgentError, UnknownWorkflowError, _aws, _client, _error_code

#: Stack statuses whose outputs cannot be trusted (creation failed, stack gone or going).
_UNUSABLE_STACK_STATUSES = frozenset({
    "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE", "REVIEW_IN_PROGRESS",
})
_DEPLOY_HINT = "run `npx cdk deploy --all` first"


# --------------------------------------------------------------------------- names


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
