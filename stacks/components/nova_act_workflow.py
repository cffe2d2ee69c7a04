"""A Nova Act agent's workflow definition, and exactly what its runtime needs to run it."""

from __future__ import annotations

import re

from aws_cdk import aws_iam as iam
from aws_cdk import aws_novaact as novaact
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .agent_runtime import AgentRuntime
from .nag import acknowledge_matching

__all__ = ["NovaActWorkflow", "NOVA_ACT_RUN_ACTIONS", "nova_act_export_prefix"]

#: The Nova Act operations the SDK (nova-act 3.4) calls while a workflow runs: ``Workflow``
#: enter/exit (``CreateWorkflowRun``, ``UpdateWorkflowRun``), ``NovaAct.start``
#: (``CreateSession``) and each ``act()`` (``CreateAct``, ``InvokeActStep``, ``UpdateAct``).
#: The Service Authorization Reference for Amazon Nova Act authorizes ``CreateWorkflowRun`` on
#: the ``workflow-definition`` resource and the other five on ``workflow-definition`` and
#: ``workflow-run`` (``<definition ARN>/workflow-run/<run id>``).
NOVA_ACT_RUN_ACTIONS = (
    "nova-act:CreateAct",
    "nova-act:CreateSession",
    "nova-act:CreateWorkflowRun",
    "nova-act:InvokeActStep",
    "nova-act:UpdateAct",
    "nova-act:UpdateWorkflowRun",
)


def nova_act_export_prefix(agent_id: str) -> str:
    """The results-bucket prefix a Nova Act agent's workflow runs are exported under.

    Examples
    --------
    >>> nova_act_export_prefix("getting_started")
    'nova-act/getting_started/'
    """
    return f"nova-act/{agent_id}/"


class NovaActWorkflow(Construct):
    """The ``AWS::NovaAct::WorkflowDefinition`` a Nova Act agent's ``@workflow`` runs under.

    - The definition is named ``spec.nova_act.workflow_definition_name`` and, given an export
      bucket, exports its runs to ``s3://<bucket>/nova-act/<agent id>/``.
    - The runtime's execution role may call ``NOVA_ACT_RUN_ACTIONS`` on that definition and
      its runs (``<definition ARN>`` and ``<definition ARN>/workflow-run/*``), and nothing else
      of Nova Act. Nova Act writes the export with the caller's credentials ("the IAM role used
      to access Nova Act must also have write permissions to this bucket", API reference
      ``WorkflowExportConfig``), so the role also gets ``s3:PutObject`` on the export prefix
      only; the bucket policy is left alone.
    - The runtime gets ``NOVA_ACT_WORKFLOW_DEFINITION_NAME``, and with
      ``spec.nova_act.api_key_secret_name`` the ARN of that Secrets Manager secret in
      ``NOVA_ACT_API_KEY_SECRET_ARN`` plus read access to it: the key itself never appears in
      the template, the image or the environment.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    agent:
        The Nova Act agent's runtime (``agent.spec.nova_act`` must be set).
    export_bucket:
        Bucket receiving the exported runs. Default: none, no export.

    Attributes
    ----------
    definition:
        The ``CfnWorkflowDefinition``.
    definition_arn:
        Its ARN.
    api_key_secret:
        The API key's secret, or ``None``.

    Raises
    ------
    ValueError
        When the agent has no Nova Act settings.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        agent: AgentRuntime,
        export_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = agent.spec.nova_act
        if settings is None:
            raise ValueError(f"agent {agent.spec.agent_id!r} has no nova_act settings (agent.json kind 'nova_act')")
        prefix = nova_act_export_prefix(agent.spec.agent_id)
        self.definition = novaact.CfnWorkflowDefinition(
            self,
            "WorkflowDefinition",
            name=settings.workflow_definition_name,
            description=f"Nova Act workflow of the stepgraph agent {agent.spec.agent_id}",
            export_config=novaact.CfnWorkflowDefinition.WorkflowExportConfigProperty(
                s3_bucket_name=export_bucket.bucket_name, s3_key_prefix=prefix.rstrip("/")
            )
            if export_bucket is not None
            else None,
        )
        self.definition_arn = self.definition.attr_arn
        role = agent.runtime.role
        agent.runtime.add_to_role_policy(
            iam.PolicyStatement(
                sid="RunNovaActWorkflow",
                actions=list(NOVA_ACT_RUN_ACTIONS),
                resources=[self.definition_arn, f"{self.definition_arn}/workflow-run/*"],
            )
        )
        acknowledge_matching(
            role,
            "AwsSolutions-IAM5",
            "Nova Act authorizes a workflow run's sessions and acts on the run "
            "(<workflow definition ARN>/workflow-run/<run id>); run ids are created at run time. "
            "Only this agent's own workflow definition is granted.",
            pattern=r"Resource::<[^>]*WorkflowDefinition[^>]*\.Arn>/workflow-run/\*",
        )
        if export_bucket is not None:
            agent.runtime.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ExportNovaActRuns",
                    actions=["s3:PutObject"],
                    resources=[export_bucket.arn_for_objects(prefix + "*")],
                )
            )
            acknowledge_matching(
                role,
                "AwsSolutions-IAM5",
                "Nova Act exports a run's data with the caller's credentials under the definition's "
                "export prefix, in objects it names at run time; the grant covers that prefix only.",
                pattern=r"Resource::.*/" + re.escape(prefix) + r"\*",
            )
        agent.add_environment("NOVA_ACT_WORKFLOW_DEFINITION_NAME", settings.workflow_definition_name)
        self.api_key_secret: secretsmanager.ISecret | None = None
        if settings.api_key_secret_name:
            self.api_key_secret = secretsmanager.Secret.from_secret_name_v2(
                self, "ApiKeySecret", settings.api_key_secret_name
            )
            self.api_key_secret.grant_read(role)
            agent.add_environment("NOVA_ACT_API_KEY_SECRET_ARN", self.api_key_secret.secret_arn)
            acknowledge_matching(
                role,
                "AwsSolutions-IAM5",
                "The Nova Act API key's secret is referenced by name; Secrets Manager appends six "
                "random characters to a secret's ARN, so the grant names <name>-?????? (one secret).",
                pattern=r"Resource::.*:secret:" + re.escape(settings.api_key_secret_name) + r"-\?\?\?\?\?\?",
            )
