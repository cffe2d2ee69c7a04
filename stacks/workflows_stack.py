"""Workflows: the Lambda handlers, one Step Functions state machine per workflow with its alarms,
and what starts or completes its runs: schedules, webhooks, chaining, the result-record backstop
(SPEC §3, §5)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from stepgraph import substitutions as keys
from stepgraph.chaining import chain_routes
from stepgraph.handlers import RECORD_BACKSTOP, STATE_MACHINE_HANDLERS, WEBHOOK, HandlerSpec, bundle_sources, session_agents
from stepgraph.handlers import CHAIN as CHAIN_HANDLER
from stepgraph.model import Workflow
from stepgraph.steps.agent_execution import AsyncAgentDeployment
from stepgraph.steps.trigger import ScheduleDeployment, WebhookDeployment
from stepgraph_runtime import env
from stepgraph_runtime.offload import PREFIX as PAYLOADS_PREFIX

from .components import (
    AlarmTopic,
    ChainSubscriptions,
    DeadLetterQueue,
    EncryptedTopic,
    PowertoolsFunction,
    RecordBackstop,
    ScheduleTrigger,
    WebhookTrigger,
    WorkflowResources,
    WorkflowStateMachine,
    powertools_layer,
)
from .components.encrypted_topic import grant_publish
from .components.encrypted_table import encrypted_table
from .components.nag import acknowledge_matching
from .components.workflow_state_machine import CompiledWorkflowLike
from .naming import pascal, state_machine_name
from .settings import Settings

__all__ = [
    "UnknownAgentError",
    "UnknownWorkflowError",
    "WorkflowsStack",
]


class UnknownAgentError(ValueError):
    """A workflow calls an agent that has no runtime (no folder ``agents/<agent_id>/``)."""


class UnknownWorkflowError(ValueError):
    """A workflow's ``on_complete`` names a workflow that is not deployed."""


def _children_first(workflows: Sequence[CompiledWorkflowLike]) -> list[CompiledWorkflowLike]:
    """Workflows by name, each after the workflows its ``subflow`` steps run (validation refused cycles)."""
    by_name = {c.name: c for c in workflows}
    ordered: list[CompiledWorkflowLike] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in by_name:
            return
        seen.add(name)
        for child in by_name[name].child_workflows:
            visit(child)
        ordered.append(by_name[name])

    for name in sorted(by_name):
        visit(name)
    return ordered


class WorkflowsStack(cdk.Stack):
    """The Lambda handlers and one state machine per compiled workflow, and what starts them.

    Besides the state machines (each with alarms on failed and timed-out executions), the stack
    deploys: an EventBridge Scheduler schedule per ``schedule`` trigger, an HMAC-checked function
    URL per ``webhook`` trigger, the chain function subscribed to the results topic when a
    workflow has ``on_complete``, and the result-record backstop. Every dead-letter queue and
    alarm reports to one encrypted alarms topic.

    Parameters
    ----------
    scope, construct_id:
        Where the stack goes.
    workflows:
        Compiled workflows (``stepgraph.compile_workflow``), one state machine each.
    runtimes:
        AgentCore runtimes by agent id (``AgentsStack.runtimes``).
    results_bucket, results_topic:
        Where result records go (``ResultsStack``).
    lambdas_dir:
        The folder holding ``<handler>/handler.py`` (the handler table: ``stepgraph.handlers``).
    results_topic_key:
        The topic's KMS key (publishers need its data key). Default: none, a topic without a
        customer-managed key.
    payloads_bucket:
        Where handlers offload step outputs too large for Step Functions. Default: none
        (a too-large output then fails its step). Each offloading handler may read and write
        only ``payloads/<workflow>/*`` of the deployed workflows.
    definitions:
        The workflow documents by name (``Project.workflows``): their triggers (``schedule``,
        ``webhook``) and ``on_complete`` chains. Default: none (no schedules, webhooks or
        chains).
    project_root:
        Where the project's ``tools/`` is (bundled with ``tool_call``). Default: the parent of
        ``lambdas_dir``.
    settings:
        Deployment settings (name prefix, log retention, Powertools release). Default
        ``Settings()``.
    **kwargs:
        Passed to ``cdk.Stack``.

    Attributes
    ----------
    invoker:
        ``lambdas/invoke_agent``: calls ``InvokeAgentRuntime`` with the runtime ARN its event
        names; may invoke every runtime a workflow uses (the runtime ARN and ``ARN/*``).
    handlers:
        Every deployed ``PowertoolsFunction`` by substitution key (the invoker included).
    approvals_table, approvals:
        The approval requests table and the approvers' topic, when a workflow has a
        ``human_approval`` step; otherwise ``None``.
    state_machines:
        ``WorkflowStateMachine`` constructs by workflow name, each with alarms on failed and
        timed-out executions.
    alarms:
        The ``AlarmTopic`` every alarm of the stack notifies (output ``AlarmsTopicArn``).
    backstop:
        The ``RecordBackstop`` (rule, function, dead-letter queue); ``None`` without workflows.
    chain:
        The ``ChainSubscriptions``, when a workflow has ``on_complete``; otherwise ``None``.
    schedules:
        ``ScheduleTrigger`` constructs by workflow name (``schedule`` triggers).
    webhooks:
        ``WebhookTrigger`` constructs by workflow name (``webhook`` triggers; outputs
        ``WebhookUrl<Pascal name>`` and ``WebhookSecretArn<Pascal name>``).

    Raises
    ------
    UnknownAgentError
        When a workflow calls an agent with no runtime.
    UnknownWorkflowError
        When an ``on_complete`` names a workflow that is not deployed.
    MissingSubstitutionError
        When a compiled definition holds a placeholder this stack cannot fill.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflows: Sequence[CompiledWorkflowLike],
        runtimes: Mapping[str, agentcore.IBedrockAgentRuntime],
        results_bucket: s3.IBucket,
        results_topic: sns.ITopic,
        lambdas_dir: Path,
        results_topic_key: kms.IKey | None = None,
        payloads_bucket: s3.IBucket | None = None,
        definitions: Mapping[str, Workflow] | None = None,
        project_root: Path | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings or Settings()
        self._lambdas_dir = Path(lambdas_dir)
        self._project_root = Path(project_root) if project_root is not None else self._lambdas_dir.parent
        self._payloads_bucket = payloads_bucket
        self._workflow_names = sorted({compiled.name for compiled in workflows})
        self._layer = powertools_layer(
            self,
            "PowertoolsLayer",
            version=self.settings.powertools_version,
            layer_arn=self.settings.powertools_layer_arn,
        )
        used_keys = {key for compiled in workflows for key in compiled.substitution_keys}
        self.handlers: dict[str, PowertoolsFunction] = {}
        for key, handler in STATE_MACHINE_HANDLERS.items():
            if handler.always_deployed or key in used_keys:
                self.handlers[key] = self._handler(handler)
        self.invoker = self.handlers[keys.INVOKE_AGENT_FUNCTION]
        self._grant_secrets(workflows)
        self._grant_runtimes(workflows, runtimes)
        self.approvals_table: dynamodb.TableV2 | None = None
        self.approvals: EncryptedTopic | None = None
        if keys.APPROVAL_FUNCTION in self.handlers:
            self._add_approvals(self.handlers[keys.APPROVAL_FUNCTION])

        resources = WorkflowResources(
            results_bucket=results_bucket,
            results_topic=results_topic,
            results_topic_key=results_topic_key,
            functions={key: handler.function for key, handler in self.handlers.items()},
            runtimes=dict(runtimes),
        )
        self.alarms = AlarmTopic(self, "Alarms", removal_policy=self.settings.cdk_removal_policy)
        cdk.CfnOutput(self, "AlarmsTopicArn", value=self.alarms.topic.topic_arn,
                      description="SNS topic notified by every alarm of the workflows (failed and timed-out "
                      "executions, dead-letter queues); subscribe to it")
        self.state_machines: dict[str, WorkflowStateMachine] = {}
        for compiled in _children_first(workflows):
            machine = WorkflowStateMachine(
                self,
                f"Workflow{pascal(compiled.name)}",
                compiled=compiled,
                resources=replace(resources, state_machines={
                    name: self.state_machines[name].state_machine for name in compiled.child_workflows}),
                state_machine_name=state_machine_name(self.settings.stack_prefix, compiled.name),
                log_retention=self.settings.retention,
                removal_policy=self.settings.cdk_removal_policy,
                alarm_topic=self.alarms,
            )
            self.state_machines[compiled.name] = machine
            cdk.CfnOutput(
                self,
                f"StateMachineArn{pascal(compiled.name)}",
                value=machine.state_machine.state_machine_arn,
                description=f"State machine ARN of workflow {compiled.name}",
            )
        for key, handler in self.handlers.items():
            cdk.CfnOutput(self, key, value=handler.function.function_arn, description=handler.function.node.path)

        self._grant_task_results({compiled.name: compiled for compiled in workflows}, runtimes)
        definitions = dict(definitions or {})
        self.backstop: RecordBackstop | None = None
        if self.state_machines:
            sessions = {name: [runtimes[a] for a in agents]
                        for name, agents in session_agents({c.name: c for c in workflows}).items()}
            self._add_backstop(results_bucket, results_topic, results_topic_key, sessions)
        self.chain: ChainSubscriptions | None = None
        routes = {upstream: targets for upstream, targets in chain_routes(definitions).items() if upstream in self.state_machines}
        if routes:
            self._add_chaining(routes, results_topic)
        self.schedules: dict[str, ScheduleTrigger] = {}
        self.webhooks: dict[str, WebhookTrigger] = {}
        self._add_triggers({compiled.name: compiled for compiled in workflows})

    def _dead_letters(self, construct_id: str, purpose: str) -> DeadLetterQueue:
        return DeadLetterQueue(
            self, construct_id, purpose=purpose, alarm_topic=self.alarms, removal_policy=self.settings.cdk_removal_policy
        )

    def _grant_task_results(self, compiled: Mapping[str, CompiledWorkflowLike],
                            runtimes: Mapping[str, agentcore.IBedrockAgentRuntime]) -> None:
        """Let each runtime called asynchronously send task results to exactly the state machines that call it so.

        ``states:SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat`` (what
        ``StateMachine.grant_task_response`` grants) on those state machines' ARNs, as a policy of
        this stack attached to the runtime's role (the role lives in the agents stack, which the
        state machines depend on), and ``s3:PutObject`` under ``payloads/<workflow>/`` of those
        workflows for a result too large to send. A runtime called only synchronously gets nothing.
        """
        callers: dict[str, list[str]] = {}
        for name, machine in self.state_machines.items():
            for deployment in compiled[name].deployments:
                if isinstance(deployment, AsyncAgentDeployment):
                    callers.setdefault(deployment.agent_id, [])
                    if name not in callers[deployment.agent_id]:
                        callers[deployment.agent_id].append(name)
        self.task_result_policies: dict[str, iam.Policy] = {}
        for agent_id, names in sorted(callers.items()):
            role = getattr(runtimes[agent_id], "role", None)
            if role is None:  # pragma: no cover - an imported runtime without its role
                raise UnknownAgentError(f"agent {agent_id!r} is called asynchronously but its runtime's role is unknown")
            statements = [iam.PolicyStatement(
                sid="SendTaskResultsOfAsyncSteps",
                actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                resources=[self.state_machines[n].state_machine.state_machine_arn for n in sorted(names)],
            )]
            if self._payloads_bucket is not None:
                # A result too large for SendTaskSuccess goes to payloads/<workflow>/<execution>/
                # (stepgraph_runtime.async_agent); only under the workflows that call this agent so.
                statements.append(iam.PolicyStatement(
                    sid="OffloadLargeResultsOfAsyncSteps",
                    actions=["s3:PutObject"],
                    resources=[self._payloads_bucket.arn_for_objects(f"{PAYLOADS_PREFIX}{n}/*") for n in sorted(names)],
                ))
            self.task_result_policies[agent_id] = iam.Policy(
                self, f"TaskResults{pascal(agent_id)}", roles=[role], statements=statements,
            )
            acknowledge_matching(
                self.task_result_policies[agent_id],
                "AwsSolutions-IAM5",
                "An async agent step's large result is written under payloads/<workflow>/<execution>/, "
                "execution names known only at run time; only the prefixes of the workflows that call "
                "this agent asynchronously.",
                pattern=r"Resource::.*/payloads/[^*]+/\*",
            )

    def _add_backstop(self, results_bucket: s3.IBucket, results_topic: sns.ITopic, results_topic_key: kms.IKey | None,
                      session_runtimes: Mapping[str, Sequence[agentcore.IBedrockAgentRuntime]]) -> None:
        """``lambdas/record_backstop`` behind the rule on ended executions: records and sessions."""
        prefix = self.settings.stack_prefix
        self.backstop = RecordBackstop(
            self,
            "ResultRecordBackstop",
            function=self._handler(RECORD_BACKSTOP).function,
            state_machines={m.name: m.state_machine for m in self.state_machines.values()},
            name_prefix=f"{prefix}-" if prefix else "",
            results_bucket=results_bucket,
            results_topic=results_topic,
            results_topic_key=results_topic_key,
            dead_letters=self._dead_letters("BackstopDeadLetters", "execution status changes for the result-record backstop"),
            session_runtimes=session_runtimes,
        )

    def _add_chaining(self, routes: dict[str, list[dict[str, str]]], results_topic: sns.ITopic) -> None:
        """``lambdas/chain``, subscribed to the results topic once per upstream workflow."""
        missing = sorted({t["workflow"] for targets in routes.values() for t in targets} - set(self.state_machines))
        if missing:
            callers = sorted(u for u, targets in routes.items() if {t["workflow"] for t in targets} & set(missing))
            raise UnknownWorkflowError(f"workflow(s) {callers} chain to {missing} (on_complete), which are not deployed")
        self.chain = ChainSubscriptions(
            self,
            "Chaining",
            function=self._handler(CHAIN_HANDLER).function,
            routes=routes,
            state_machines={name: machine.state_machine for name, machine in self.state_machines.items()},
            results_topic=results_topic,
            dead_letters=self._dead_letters("ChainDeadLetters", "results for chained workflows"),
        )

    def _add_triggers(self, compiled: Mapping[str, CompiledWorkflowLike]) -> None:
        """What the compiled workflows' deployment descriptors ask for: schedules and webhooks."""
        schedule_dead_letters: DeadLetterQueue | None = None
        for name, machine in sorted(self.state_machines.items()):
            for deployment in compiled[name].deployments:
                if isinstance(deployment, ScheduleDeployment):
                    if schedule_dead_letters is None:
                        schedule_dead_letters = self._dead_letters("ScheduleDeadLetters", "scheduled workflow starts")
                    self.schedules[name] = ScheduleTrigger(
                        self,
                        f"Schedule{pascal(name)}",
                        state_machine=machine.state_machine,
                        kind=deployment.expression_kind,
                        expression=deployment.expression,
                        timezone=deployment.timezone,
                        description=f"Starts workflow {name}",
                        dead_letters=schedule_dead_letters,
                    )
                elif isinstance(deployment, WebhookDeployment):
                    self._add_webhook(name, machine, deployment)

    def _add_webhook(self, name: str, machine: WorkflowStateMachine, deployment: WebhookDeployment) -> None:
        """An HMAC-checked function URL that starts workflow ``name`` (a ``webhook`` trigger)."""
        scope = Construct(self, f"Webhook{pascal(name)}")
        function = self._handler(WEBHOOK, scope=scope)
        webhook = WebhookTrigger(
            scope,
            "Trigger",
            function=function.function,
            state_machine=machine.state_machine,
            workflow_name=name,
            secret_name=deployment.secret_name,
            removal_policy=self.settings.cdk_removal_policy,
        )
        self.webhooks[name] = webhook
        cdk.CfnOutput(self, f"WebhookUrl{pascal(name)}", value=webhook.url.url,
                      description=f"Webhook URL of workflow {name}: POST deliveries signed with the secret "
                      "(X-Stepgraph-Timestamp, X-Stepgraph-Delivery, "
                      "X-Stepgraph-Signature: sha256=HMAC of '<timestamp>.<delivery id>.<body>')")
        cdk.CfnOutput(self, f"WebhookSecretArn{pascal(name)}", value=webhook.secret.secret_arn,
                      description=f"Secrets Manager secret holding the HMAC key of workflow {name}'s webhook")

    def _grant_secrets(self, workflows: Sequence[CompiledWorkflowLike]) -> None:
        """Read on exactly the secrets ``api_call`` headers name (``{{secrets.<name>}}``), for the api_call function."""
        names = sorted({name for compiled in workflows for name in getattr(compiled, "secrets", ())})
        function = self.handlers.get(keys.API_CALL_FUNCTION)
        if not names or function is None:
            return
        for name in names:
            secret = secretsmanager.Secret.from_secret_name_v2(self, f"ApiSecret{pascal(name)}", name)
            secret.grant_read(function.function)
        acknowledge_matching(
            function.function,
            "AwsSolutions-IAM5",
            "A secret referenced by name has a random 6-character suffix in its ARN (Secrets Manager "
            "naming); the grant is <name>-?????? for exactly the secrets the workflows' api_call headers name.",
            pattern=r"Resource::arn:<AWS::Partition>:secretsmanager:.*-\?\?\?\?\?\?",
        )

    def _handler(self, handler: HandlerSpec, *, scope: Construct | None = None) -> PowertoolsFunction:
        function = PowertoolsFunction(
            scope or self,
            handler.construct_id,
            code_path=handler.code_path(self._lambdas_dir),
            service_name=handler.folder,
            powertools=self._layer,
            description=handler.description,
            timeout=cdk.Duration.seconds(handler.timeout_seconds),
            bundle=bundle_sources(handler, self._project_root),
            log_retention=self.settings.retention,
            removal_policy=self.settings.cdk_removal_policy,
        )
        if handler.offloads and self._payloads_bucket is not None and self._workflow_names:
            function.function.add_environment(env.PAYLOADS_BUCKET, self._payloads_bucket.bucket_name)
            # One function serves every workflow, so its role holds the prefixes of the deployed
            # workflows, not the whole bucket; the handler itself follows only references under
            # payloads/<its workflow>/<its execution>/ (stepgraph_runtime.offload.resolve).
            function.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="OffloadPayloads",
                    actions=["s3:PutObject", "s3:GetObject"],
                    resources=[self._payloads_bucket.arn_for_objects(f"{PAYLOADS_PREFIX}{name}/*")
                               for name in self._workflow_names],
                )
            )
            acknowledge_matching(
                function.role,
                "AwsSolutions-IAM5",
                "Offloaded step outputs are written and read under payloads/<workflow>/<execution>/ "
                "with execution names known only at run time; access is limited to the deployed "
                "workflows' own prefixes, and the handler follows only its execution's references.",
                pattern=r"Resource::.*/payloads/[^*]+/\*",
            )
        return function

    def _grant_runtimes(
        self, workflows: Sequence[CompiledWorkflowLike], runtimes: Mapping[str, agentcore.IBedrockAgentRuntime]
    ) -> None:
        used_agents = sorted({agent_id for compiled in workflows for agent_id in compiled.agent_ids})
        for agent_id in used_agents:
            if agent_id not in runtimes:
                callers = sorted(c.name for c in workflows if agent_id in c.agent_ids)
                raise UnknownAgentError(
                    f"workflow(s) {callers} call agent {agent_id!r}, which has no folder agents/{agent_id}/"
                )
            runtimes[agent_id].grant_invoke_runtime(self.invoker.function)
            # the execution's user_id travels as runtimeUserId (X-Amzn-Bedrock-AgentCore-Runtime-User-Id)
            runtimes[agent_id].grant_invoke_runtime_for_user(self.invoker.function)
        acknowledge_matching(
            self.invoker.role,
            "AwsSolutions-IAM5",
            "InvokeAgentRuntime is authorized on the runtime ARN and on its sub-resources "
            "(<runtime ARN>/*, the runtime endpoints such as DEFAULT); without ARN/* the call is "
            "denied. Only the runtimes the workflows call are granted.",
            pattern=r"Resource::.*AgentRuntimeArn.*/\*",
        )

    def _add_approvals(self, approval: PowertoolsFunction) -> None:
        """The approval requests table and the approvers' topic, wired to ``lambdas/approval``."""
        # The table holds task tokens: KMS encryption (the AWS managed key), not the default owned key.
        self.approvals_table = encrypted_table(self, "ApprovalsTable", partition_key="approval_id", ttl_attribute="ttl",
                                               removal_policy=self.settings.cdk_removal_policy)
        self.approvals = EncryptedTopic(
            self,
            "ApprovalsTopic",
            display_name="stepgraph approval requests",
            removal_policy=self.settings.cdk_removal_policy,
        )
        fn = approval.function
        fn.add_environment(env.APPROVALS_TABLE_NAME, self.approvals_table.table_name)
        fn.add_environment(env.APPROVALS_TOPIC_ARN, self.approvals.topic.topic_arn)
        # The handler only stores a request (PutItem with a condition); deciding happens elsewhere.
        self.approvals_table.grant(fn, "dynamodb:PutItem")
        grant_publish(fn, self.approvals.topic, self.approvals.key)
        cdk.CfnOutput(self, "ApprovalsTableName", value=self.approvals_table.table_name,
                      description="DynamoDB table of human approval requests")
        cdk.CfnOutput(self, "ApprovalsTopicArn", value=self.approvals.topic.topic_arn,
                      description="SNS topic on which approvers are notified")

