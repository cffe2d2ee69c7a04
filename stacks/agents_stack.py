"""Agents: one ECR repository, arm64 image and AgentCore runtime per folder in ``agents/`` (SPEC §6)."""

from __future__ import annotations

from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stepgraph.agents import AgentSpec

from .components import AgentRuntime
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
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        agents: Mapping[str, AgentSpec],
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or Settings()
        self.agents: dict[str, AgentRuntime] = {}
        for agent_id, spec in sorted(agents.items()):
            agent = AgentRuntime(
                self,
                f"Agent{pascal(agent_id)}",
                spec=spec,
                log_retention=settings.retention,
                images_to_keep=settings.images_to_keep,
                removal_policy=settings.cdk_removal_policy,
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
        self._adopt_image_copier(settings)

    @property
    def runtimes(self) -> dict[str, agentcore.IBedrockAgentRuntime]:
        """The AgentCore runtimes by agent id."""
        return {agent_id: agent.runtime for agent_id, agent in self.agents.items()}

    def _add_nova_act(self, agent: AgentRuntime) -> None:
        """Seam for Nova Act agents (``kind == "nova_act"``): their workflow definition.

        A Nova Act agent runs like any other container agent; what it lacks here is its
        ``AWS::NovaAct::WorkflowDefinition`` (``aws_cdk.aws_novaact.CfnWorkflowDefinition``,
        named ``agent.spec.nova_act.workflow_definition_name``) and the runtime role's
        ``nova-act:*`` permissions on it. Both land with their own issue; until then this hook
        deliberately adds nothing.
        """

    def _adopt_image_copier(self, settings: Settings) -> None:
        """Give cdk_ecr_deployment's copier Lambda our log retention and acknowledge its findings.

        The construct adds one singleton Lambda per stack, outside our constructs; its log
        group is the one CDK creates for it (``@aws-cdk/aws-lambda:useCdkManagedLogGroup``).
        """
        for child in self.node.children:
            if isinstance(child, lambda_.Function) and "CDKECRDeployment" in child.node.id:
                log_group = child.log_group.node.default_child
                if isinstance(log_group, logs.CfnLogGroup):
                    log_group.retention_in_days = settings.log_retention_days
                    log_group.apply_removal_policy(settings.cdk_removal_policy)
                acknowledge(
                    child,
                    "AwsSolutions-IAM4",
                    "cdk-ecr-deployment's image copier creates its own role with "
                    "AWSLambdaBasicExecutionRole; the construct offers no way to replace it.",
                    findings=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                )
                acknowledge(
                    child,
                    "AwsSolutions-IAM5",
                    "cdk-ecr-deployment's copier pulls from the CDK asset repository and pushes to the "
                    "agent repositories; the construct itself grants ecr:* and s3:GetObject on '*' "
                    "and takes no narrower scope. It runs only during deployments.",
                    findings=["Resource::*"],
                )
