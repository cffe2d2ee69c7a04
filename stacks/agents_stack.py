"""Agents: one ECR repository, arm64 image and AgentCore runtime per folder in ``agents/`` (SPEC §6)."""

from __future__ import annotations

from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stepgraph.agents import AgentSpec
from stepgraph_runtime import env

from .components import AgentRuntime, NovaActWorkflow
from .components.agent_runtime import image_copier_role
from .components.nag import acknowledge
from .naming import pascal
from .settings import Settings

__all__ = ["AgentsStack"]


class AgentsStack(cdk.Stack):
    """Every agent of the project as an AgentCore runtime.

    Parameters
    ----------
    scope, construct_id:
        Where the stack goes.
    agents:
        Agent folders by id (``Project.agents``). An empty mapping gives an empty stack.
    results_bucket:
        Bucket that Nova Act workflow definitions export their runs to (under
        ``nova-act/<agent id>/``). Default: none, no export.
    payloads_bucket:
        Bucket of offloaded step outputs: its name is each runtime's ``PAYLOADS_BUCKET``, where an
        async agent step puts a result too large for ``SendTaskSuccess``
        (:mod:`stepgraph_runtime.async_agent`; the workflows stack grants the write, per
        workflow). Default: none, such a result fails the step ``AGENT_ERROR``.
    settings:
        Deployment settings (log retention, images kept, removal policy). Default ``Settings()``.
    **kwargs:
        Passed to ``cdk.Stack``.

    Attributes
    ----------
    agents:
        The ``AgentRuntime`` constructs by agent id.
    runtimes:
        The AgentCore runtimes by agent id.
    nova_act:
        The ``NovaActWorkflow`` constructs of the Nova Act agents, by agent id.

    Outputs: per agent ``AgentRuntimeArn<Pascal id>``, ``AgentImageUri<Pascal id>`` and
    ``AgentImageTag<Pascal id>`` (what ``stepgraph deploy-state`` writes into the Nova Act
    CLI's state file), and per Nova Act agent ``WorkflowDefinitionArn<Pascal id>``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        agents: Mapping[str, AgentSpec],
        results_bucket: s3.IBucket | None = None,
        payloads_bucket: s3.IBucket | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or Settings()
        self._results_bucket = results_bucket
        self.agents: dict[str, AgentRuntime] = {}
        self.nova_act: dict[str, NovaActWorkflow] = {}
        for agent_id, spec in sorted(agents.items()):
            agent = AgentRuntime(
                self,
                f"Agent{pascal(agent_id)}",
                spec=spec,
                log_retention=settings.retention,
                images_to_keep=settings.images_to_keep,
                removal_policy=settings.cdk_removal_policy,
                environment={env.PAYLOADS_BUCKET: payloads_bucket.bucket_name} if payloads_bucket is not None else None,
            )
            if spec.kind == "nova_act":
                self._add_nova_act(agent)
            self.agents[agent_id] = agent
            cdk.CfnOutput(
                self,
                f"AgentRuntimeArn{pascal(agent_id)}",
                value=agent.runtime.agent_runtime_arn,
                description=f"AgentCore runtime ARN of agent {agent_id}",
            )
            cdk.CfnOutput(
                self,
                f"AgentImageUri{pascal(agent_id)}",
                value=agent.image_uri,
                description=f"Container image (repository URI and tag) the runtime of agent {agent_id} runs",
            )
            cdk.CfnOutput(
                self,
                f"AgentImageTag{pascal(agent_id)}",
                value=agent.image_tag,
                description=f"Image tag (asset hash) the runtime of agent {agent_id} runs",
            )
        self._adopt_image_copier(settings)

    @property
    def runtimes(self) -> dict[str, agentcore.IBedrockAgentRuntime]:
        """The AgentCore runtimes by agent id."""
        return {agent_id: agent.runtime for agent_id, agent in self.agents.items()}

    def _add_nova_act(self, agent: AgentRuntime) -> None:
        """Give a Nova Act agent (``kind == "nova_act"``) its workflow definition (``NovaActWorkflow``).

        The definition exports its runs to the results bucket under ``nova-act/<agent id>/``;
        the runtime role may run that definition and nothing else of Nova Act. Outputs
        ``WorkflowDefinitionArn<Pascal id>``.
        """
        agent_id = agent.spec.agent_id
        workflow = NovaActWorkflow(agent, "NovaAct", agent=agent, export_bucket=self._results_bucket)
        self.nova_act[agent_id] = workflow
        cdk.CfnOutput(
            self,
            f"WorkflowDefinitionArn{pascal(agent_id)}",
            value=workflow.definition_arn,
            description=f"Nova Act workflow definition ARN of agent {agent_id}",
        )

    def _adopt_image_copier(self, settings: Settings) -> None:
        """Give cdk_ecr_deployment's copier Lambda our log retention, and its role its log group only.

        The construct adds one singleton Lambda per stack, outside our constructs; its log
        group is the one CDK creates for it (``@aws-cdk/aws-lambda:useCdkManagedLogGroup``).
        Its role is ``image_copier_role`` (granted per agent in ``AgentRuntime``), which may
        write that log group and nothing else of CloudWatch Logs.
        """
        for child in self.node.children:
            if isinstance(child, lambda_.Function) and "CDKECRDeployment" in child.node.id:
                log_group = child.log_group.node.default_child
                if isinstance(log_group, logs.CfnLogGroup):
                    log_group.retention_in_days = settings.log_retention_days
                    log_group.apply_removal_policy(settings.cdk_removal_policy)
                role = image_copier_role(self)
                # A policy of its own, not the role's default policy: the function (and so its
                # log group) depends on the default policy, which must not depend on the group.
                iam.Policy(
                    self,
                    "ImageCopierLogs",
                    roles=[role],
                    statements=[iam.PolicyStatement(
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[child.log_group.log_group_arn],
                    )],
                )
                acknowledge(
                    role,
                    "AwsSolutions-IAM5",
                    "ecr:GetAuthorizationToken has no resource-level permissions (ECR's service "
                    "authorization reference); every other ECR action is on the agent and asset "
                    "repositories by ARN.",
                    findings=["Resource::*"],
                )
