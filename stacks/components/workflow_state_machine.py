"""One compiled workflow deployed as a Step Functions state machine."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stepgraph import substitutions as keys

from .alarm_topic import AlarmTopic
from .encrypted_topic import grant_publish
from .nag import acknowledge, acknowledge_matching

__all__ = [
    "CompiledWorkflowLike",
    "MissingSubstitutionError",
    "WorkflowResources",
    "WorkflowStateMachine",
    "state_machine_logs_key",
    "definition_substitutions",
    "has_distributed_map",
    "results_prefix",
]


#: Construct id of the stack's one customer managed key for state machine log groups.
_LOGS_KEY_ID = "StateMachineLogsKey"


def state_machine_logs_key(scope: Construct, removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN) -> kms.Key:
    """The stack's customer managed KMS key for its state machines' log groups (made on first use).

    Those log groups hold execution data (``Level: ALL``, ``IncludeExecutionData``), and so
    the task tokens of human approvals. The key's policy gives the account (key
    administration through IAM, as every KMS key policy must) and nothing else;
    :class:`WorkflowStateMachine` adds one statement per log group letting the CloudWatch Logs
    service principal of the region use the key **only** with the encryption context
    ``aws:logs:arn`` of that log group (CloudWatch Logs user guide, "Encrypt log data in
    CloudWatch Logs using AWS KMS"). Reading the logs then needs ``kms:Decrypt`` on this key
    as well as ``logs:GetLogEvents``. Rotation is on. ``removal_policy`` is the log groups':
    a retained log group needs its key.
    """
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child(_LOGS_KEY_ID)
    if isinstance(existing, kms.Key):
        return existing
    return kms.Key(
        stack,
        _LOGS_KEY_ID,
        description="Encrypts the stepgraph state machines' CloudWatch log groups (execution data, task tokens)",
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )


class CompiledWorkflowLike(Protocol):
    """What the construct reads of ``stepgraph.CompiledWorkflow``."""

    name: str
    agent_ids: tuple[str, ...]
    substitution_keys: frozenset[str]
    child_workflows: tuple[str, ...]
    deployments: tuple[Any, ...]

    def to_json(self) -> str: ...


class MissingSubstitutionError(ValueError):
    """A compiled definition holds a ``${key}`` placeholder the stack has no value for.

    Attributes
    ----------
    workflow:
        The workflow's name.
    missing:
        The keys without a value, sorted.
    """

    def __init__(self, workflow: str, missing: list[str]):
        self.workflow = workflow
        self.missing = missing
        super().__init__(
            f"workflow {workflow!r}: no value for definition substitution(s) "
            + ", ".join("${" + key + "}" for key in missing)
            + "; stacks/workflows_stack.py deploys the results bucket and topic, the Lambda "
            "functions of lambdas/ it knows (see HANDLERS there) and one runtime per folder "
            "agents/<agent_id>/"
        )


@dataclass(frozen=True)
class WorkflowResources:
    """The deployed resources a compiled state machine's placeholders point at.

    Attributes
    ----------
    results_bucket:
        Receives the result records (``${ResultsBucketName}``).
    results_topic:
        Announces them (``${ResultsTopicArn}``).
    results_topic_key:
        The topic's KMS key, when it is encrypted with a customer-managed key. Default: none.
    functions:
        Lambda functions by substitution key (``InvokeAgentFunctionArn``, ``ToolFunctionArn``,
        ``ApiCallFunctionArn``, ``ApprovalFunctionArn``). Default: none.
    runtimes:
        AgentCore runtimes by agent id (``${AgentRuntimeArn_<agent_id>}``). Default: none.
    state_machines:
        State machines of other workflows by workflow name, for ``subflow`` steps
        (``${StateMachineArn_<name>}``). Default: none.
    """

    results_bucket: s3.IBucket
    results_topic: sns.ITopic
    results_topic_key: kms.IKey | None = None
    functions: Mapping[str, lambda_.IFunction] = field(default_factory=dict)
    runtimes: Mapping[str, agentcore.IBedrockAgentRuntime] = field(default_factory=dict)
    state_machines: Mapping[str, sfn.IStateMachine] = field(default_factory=dict)

    def values(self) -> dict[str, str]:
        """Return every substitution this set of resources can fill, by key."""
        return {key: value() for key, value in self.lazy_values().items()}

    def lazy_values(self) -> dict[str, Callable[[], str]]:
        """Return, by key, a function that reads each substitution's value.

        Reading a value is a jsii call; ``definition_substitutions`` reads only the keys a
        definition uses, where ``values`` reads them all.
        """
        values: dict[str, Callable[[], str]] = {
            keys.RESULTS_BUCKET: lambda: self.results_bucket.bucket_name,
            keys.RESULTS_TOPIC: lambda: self.results_topic.topic_arn,
        }
        for key, function in self.functions.items():
            values[key] = lambda function=function: function.function_arn
        for agent_id, runtime in self.runtimes.items():
            values[keys.agent_runtime_key(agent_id)] = lambda runtime=runtime: runtime.agent_runtime_arn
        for workflow_name, machine in self.state_machines.items():
            values[keys.state_machine_key(workflow_name)] = lambda machine=machine: machine.state_machine_arn
        return values


def definition_substitutions(compiled: CompiledWorkflowLike, resources: WorkflowResources) -> dict[str, str]:
    """Return the ``DefinitionSubstitutions`` of ``compiled``: exactly its placeholder keys.

    Parameters
    ----------
    compiled:
        A compiled workflow.
    resources:
        The resources its placeholders point at.

    Returns
    -------
    dict[str, str]
        A value (a token) for each key of ``compiled.substitution_keys``, and no other key.

    Raises
    ------
    MissingSubstitutionError
        When a placeholder has no value, naming every such key.
    """
    available = resources.lazy_values()
    missing = sorted(set(compiled.substitution_keys) - set(available))
    if missing:
        raise MissingSubstitutionError(compiled.name, missing)
    return {key: available[key]() for key in sorted(compiled.substitution_keys)}


def results_prefix(workflow_name: str) -> str:
    """Return the S3 key prefix of a workflow's result records (SPEC §5).

    Examples
    --------
    >>> results_prefix("customer-support")
    'results/customer-support/'
    """
    return f"results/{workflow_name}/"


def has_distributed_map(definition: Any) -> bool:
    """Whether an Amazon States Language document holds a Map state in ``DISTRIBUTED`` mode.

    Looks through every nested state (parallel branches, map processors).

    Examples
    --------
    >>> has_distributed_map({"States": {"m": {"Type": "Map", "ItemProcessor": {
    ...     "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "States": {}}}}})
    True
    """
    if isinstance(definition, dict):
        if definition.get("Type") == "Map":
            processor = definition.get("ItemProcessor") or definition.get("Iterator") or {}
            if (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED":
                return True
        return any(has_distributed_map(value) for value in definition.values())
    if isinstance(definition, list):
        return any(has_distributed_map(value) for value in definition)
    return False


class WorkflowStateMachine(Construct):
    """A compiled workflow as a standard Step Functions state machine.

    The definition is the compiler's JSON, verbatim (``DefinitionBody.from_string``), and its
    ``${...}`` placeholders are filled through ``DefinitionSubstitutions``. Because the body
    is a string, CDK cannot see which services it calls, so this construct grants them:
    ``lambda:InvokeFunction`` on the handler functions it names, ``s3:PutObject`` on
    ``results/<workflow>/*`` only, ``sns:Publish`` on the results topic (with its KMS data
    key) — each only when the definition uses it. A definition with a Distributed Map also gets
    what its child workflow executions need: ``states:StartExecution`` on this state machine and
    ``states:DescribeExecution``/``states:StopExecution`` on its executions, ARNs built from the
    name (not ``*``, and not the state machine's own ARN, which would be a circular reference).
    Logging goes to a log group of its own (level ALL, execution data included) and X-Ray
    tracing is on.

    With ``alarm_topic``, two alarms watch the state machine, each notifying the topic:
    ``ExecutionsFailed`` and ``ExecutionsTimedOut``, Sum ≥ 1 over 5 minutes, missing data
    not breaching.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    compiled:
        The compiled workflow (``stepgraph.compile_workflow``).
    resources:
        What its placeholders point at.
    state_machine_name:
        The state machine's name. Default: the workflow's name.
    log_retention:
        Retention of the log group. Default ``RetentionDays.ONE_MONTH``.
    removal_policy:
        What ``cdk destroy`` does with the log group. Default ``RemovalPolicy.RETAIN``.
    alarm_topic:
        Where the execution alarms notify. Default: none, no alarms.

    Attributes
    ----------
    state_machine:
        The state machine.
    name:
        Its name.
    alarms:
        The alarms by metric name (``ExecutionsFailed``, ``ExecutionsTimedOut``); empty
        without ``alarm_topic``.
    log_group:
        Its log group, ``/aws/vendedlogs/states/<name>-<stack id suffix>``: the vended-logs
        prefix keeps CloudWatch Logs' account-wide resource policy from growing with every
        state machine, and the suffix lets a retained group outlive a deleted stack. Encrypted
        with ``logs_key``.
    logs_key:
        The stack's customer managed key for state machine logs (:func:`state_machine_logs_key`).
    substitutions:
        The substitutions passed to CloudFormation.

    Raises
    ------
    MissingSubstitutionError
        When the definition holds a placeholder ``resources`` cannot fill.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        compiled: CompiledWorkflowLike,
        resources: WorkflowResources,
        state_machine_name: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        alarm_topic: AlarmTopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.substitutions = definition_substitutions(compiled, resources)
        name = state_machine_name or compiled.name
        self.name = name
        stack_suffix = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
        log_group_name = f"/aws/vendedlogs/states/{name}-{stack_suffix}"
        self.logs_key = state_machine_logs_key(self, removal_policy)
        self.logs_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"LogsEncrypt{re.sub(r'[^A-Za-z0-9]', '', name)}"[:100],
                principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": cdk.Stack.of(self).format_arn(
                    service="logs", resource="log-group", resource_name=log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )}},
            )
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=log_retention,
            removal_policy=removal_policy,
            encryption_key=self.logs_key,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(compiled.to_json()),
            definition_substitutions=self.substitutions,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        self._grant(compiled, resources)
        if has_distributed_map(json.loads(compiled.to_json())):
            self._grant_distributed_map(name)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if alarm_topic is not None:
            self._add_alarms(name, alarm_topic)
        acknowledge(
            self.state_machine,
            "AwsSolutions-IAM5",
            "Step Functions logging needs logs:CreateLogDelivery/GetLogDelivery/UpdateLogDelivery/"
            "DeleteLogDelivery/ListLogDeliveries/PutResourcePolicy/DescribeResourcePolicies/"
            "DescribeLogGroups, and X-Ray tracing xray:PutTraceSegments/PutTelemetryRecords/"
            "GetSamplingRules/GetSamplingTargets; none of them supports resource-level permissions.",
            findings=["Resource::*"],
        )
        acknowledge_matching(
            self.state_machine,
            "AwsSolutions-IAM5",
            "s3:PutObject is limited to this workflow's own prefix results/<workflow>/; the object "
            "name is the execution name, known only at run time.",
            pattern=r"Resource::.*/" + re.escape(results_prefix(compiled.name)) + r"\*",
        )

    def _grant(self, compiled: CompiledWorkflowLike, resources: WorkflowResources) -> None:
        """Grant what the definition calls, and only that (the body is a string CDK cannot read)."""
        used = compiled.substitution_keys
        functions = [resources.functions[key] for key in sorted(used) if key in resources.functions]
        if functions:
            # The definition names unqualified function ARNs, so no ARN:* for versions/aliases.
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    sid="InvokeHandlers",
                    actions=["lambda:InvokeFunction"],
                    resources=[function.function_arn for function in functions],
                )
            )
        if keys.RESULTS_BUCKET in used:
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    sid="WriteResultRecords",
                    actions=["s3:PutObject"],
                    resources=[resources.results_bucket.arn_for_objects(results_prefix(compiled.name) + "*")],
                )
            )
        if keys.RESULTS_TOPIC in used:
            grant_publish(self.state_machine, resources.results_topic, resources.results_topic_key)
        children = [resources.state_machines[name] for name in compiled.child_workflows]
        if children:
            self._grant_subflows(children)

    def _grant_subflows(self, children: list[sfn.IStateMachine]) -> None:
        """What ``startExecution.sync:2`` needs, on exactly the child state machines (Step Functions
        developer guide, "IAM policies for starting Step Functions executions", synchronous):
        start them, describe and stop their executions, and the managed EventBridge rule
        through which Step Functions learns that a child finished."""
        for child in children:
            child.grant_start_execution(self.state_machine)
            child.grant_execution(self.state_machine, "states:DescribeExecution", "states:StopExecution")
        stack = cdk.Stack.of(self)
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="SubflowCompletionEvents",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule",
                                            resource_name="StepFunctionsGetEventsForStepFunctionsExecutionRule")],
            )
        )
        acknowledge_matching(
            self.state_machine,
            "AwsSolutions-IAM5",
            "A subflow step runs a child workflow as a nested execution named at run time; "
            "Describe/StopExecution are limited to the executions of that child state machine.",
            pattern=r"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*",
        )

    def _grant_distributed_map(self, name: str) -> None:
        """What a Distributed Map's child workflow executions need (Step Functions' "IAM policies
        for using Distributed Map states"): start them, and describe and stop them."""
        stack = cdk.Stack.of(self)

        def arn(resource: str, resource_name: str) -> str:
            return stack.format_arn(
                service="states", resource=resource, resource_name=resource_name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
            )

        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartDistributedMapChildren",
                actions=["states:StartExecution"],
                resources=[arn("stateMachine", name)],
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManageDistributedMapChildren",
                actions=["states:DescribeExecution", "states:StopExecution"],
                # Child executions are named <state machine>/<map run>:<id>; CDK's own
                # DistributedMap grants <state machine>:* as well.
                resources=[arn("execution", f"{name}/*"), arn("execution", f"{name}:*")],
            )
        )
        acknowledge_matching(
            self.state_machine,
            "AwsSolutions-IAM5",
            "A Distributed Map runs its items as child executions of this state machine, named at "
            "run time (execution:<state machine>/<map run>:<id>); Describe/StopExecution are "
            "limited to this state machine's executions.",
            pattern=r"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            + re.escape(name)
            + r"[/:]\*",
        )

    def _add_alarms(self, name: str, alarm_topic: AlarmTopic) -> None:
        """Alarms on failed and timed-out executions (Sum ≥ 1 over 5 minutes)."""
        period = cdk.Duration.minutes(5)
        metrics = {
            "ExecutionsFailed": (self.state_machine.metric_failed(period=period, statistic=cloudwatch.Stats.SUM), "failed"),
            "ExecutionsTimedOut": (
                self.state_machine.metric_timed_out(period=period, statistic=cloudwatch.Stats.SUM),
                "timed out",
            ),
        }
        for metric_name, (metric, verb) in metrics.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{metric_name}Alarm",
                alarm_description=f"An execution of state machine {name} {verb} in the last 5 minutes; "
                "its result record (results/<workflow>/<execution>.json) names the error",
                metric=metric,
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm_topic.notify(alarm)
            self.alarms[metric_name] = alarm
