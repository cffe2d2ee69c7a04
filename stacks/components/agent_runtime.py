"""One agent folder deployed as an Amazon Bedrock AgentCore runtime from an ECR repository it owns."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Mapping

import aws_cdk as cdk
import cdk_ecr_deployment as ecr_deployment
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stepgraph.agents import AgentSpec

from .nag import acknowledge, acknowledge_matching

__all__ = ["AgentRuntime", "image_copier_role", "model_resource_arns", "RUNTIME_ENDPOINT"]

#: Construct id of the stack's one role for cdk_ecr_deployment's image copier.
_COPIER_ROLE_ID = "ImageCopierRole"


def image_copier_role(scope: Construct) -> iam.Role:
    """The stack's role for ``cdk_ecr_deployment``'s image-copier Lambda (made on first use).

    The construct would give its own role ``ecr:*`` push actions and ``s3:GetObject`` on
    ``*`` (checkov CKV_AWS_108 and CKV_AWS_111) and ``AWSLambdaBasicExecutionRole``. It gets
    this role instead, through ``Role.without_policy_updates()``, so the construct's grants
    are dropped; each :class:`AgentRuntime` grants it pull on its image asset's repository (the
    CDK bootstrap repository) and pull/push on its own agent repository, and the stack grants
    it writing to the copier's log group. ``ecr:GetAuthorizationToken`` stays on ``*``: it has
    no resource-level permissions (ECR's service authorization reference).
    """
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child(_COPIER_ROLE_ID)
    if isinstance(existing, iam.Role):
        return existing
    return iam.Role(
        stack,
        _COPIER_ROLE_ID,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="cdk-ecr-deployment's copier: pulls the agent image assets, pushes to the agent repositories",
    )

from stepgraph_runtime.agentcore import RUNTIME_ENDPOINT  # noqa: E402 - the endpoint every runtime has; its log group is named after it

#: Files never sent to the Docker build (they only slow it down or leak local state).
_BUILD_EXCLUDES = [".venv", "venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".git", ".env"]

#: Geography prefixes of Bedrock's cross-region (system-defined) inference profiles, e.g.
#: ``us.amazon.nova-lite-v1:0`` or ``global.anthropic.claude-sonnet-4-5-20250929-v1:0``.
_INFERENCE_PROFILE = re.compile(r"^(us|eu|apac|jp|au|ca|us-gov|global)\.(?P<model>.+)$")


def model_resource_arns(model_id: str) -> list[str]:
    """Return the resources ``bedrock:InvokeModel`` needs to call ``model_id``.

    A foundation model id (``amazon.nova-lite-v1:0``) needs the foundation model in the
    stack's region. A cross-region inference profile id (``us.amazon.nova-lite-v1:0``) needs
    the profile in the stack's region and the foundation model in every region the profile
    routes to. A full ARN is passed through unchanged.

    Parameters
    ----------
    model_id:
        A model id from an agent's ``agent.json`` (``model_ids``).

    Returns
    -------
    list[str]
        IAM resource ARNs (tokens for partition, region and account).

    Examples
    --------
    >>> len(model_resource_arns("us.amazon.nova-lite-v1:0"))
    2
    """
    if model_id.startswith("arn:"):
        return [model_id]
    partition, region, account = cdk.Aws.PARTITION, cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
    profile = _INFERENCE_PROFILE.match(model_id)
    if profile:
        return [
            f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}",
            f"arn:{partition}:bedrock:*::foundation-model/{profile.group('model')}",
        ]
    return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"]


class AgentRuntime(Construct):
    """An agent's image, its ECR repository and the AgentCore runtime that runs it.

    - The image is built from the agent folder for linux/arm64 (AgentCore runs arm64 only;
      an image built for the deploying machine's architecture fails with "exec format error")
      as a CDK Docker image asset, then copied into a repository this construct owns with
      ``cdk_ecr_deployment`` under the tag = the asset hash, by a copier whose role may pull
      only from that asset's repository and push only to this one (:func:`image_copier_role`).
      Owning the repository gives it
      scan on push, a lifecycle rule and a removal policy, which the bootstrap asset
      repository does not offer. Synth needs neither Docker nor network: the image is built
      and copied at deploy time.
    - The runtime (``runtime_name`` = agent id) runs that tag and starts only after the copy
      finished. Its execution role may call ``bedrock:InvokeModel`` on the agent's
      ``model_ids`` and nothing else of Bedrock.
    - Its log group, ``/aws/bedrock-agentcore/runtimes/<runtime id>-DEFAULT``, is created
      here with a retention, before the runtime's first session would create it without one.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    spec:
        The agent folder, as read by ``stepgraph.load_project``.
    log_retention:
        Retention of the runtime's log group. Default ``RetentionDays.ONE_MONTH``.
    images_to_keep:
        Images the repository keeps; older ones expire. Default ``10``.
    removal_policy:
        What ``cdk destroy`` does with the repository and the log group. Default
        ``RemovalPolicy.RETAIN``.
    environment:
        More environment variables of the runtime, after the agent's own
        (``agent.json``'s ``environment``). Default: none.

    Attributes
    ----------
    spec:
        The agent's settings.
    repository:
        The ECR repository.
    image:
        The Docker image asset (built and pushed by ``cdk deploy``).
    image_tag:
        The tag the runtime runs (the asset hash).
    image_uri:
        ``<repository URI>:<image_tag>``, the image the runtime runs.
    deployment:
        The copy from the asset repository into ``repository``.
    runtime:
        The AgentCore runtime.
    log_group:
        The runtime's log group.

    Examples
    --------
    >>> agent = AgentRuntime(stack, "support_agent", spec=project.agents["support_agent"])  # doctest: +SKIP
    >>> agent.runtime.grant_invoke_runtime(invoker)  # doctest: +SKIP
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: AgentSpec,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        images_to_keep: int = 10,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.repository = ecr.Repository(
            self,
            "Repository",
            image_scan_on_push=True,
            encryption=ecr.RepositoryEncryption.AES_256,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description=f"Keep the last {images_to_keep} images",
                    max_image_count=images_to_keep,
                )
            ],
            removal_policy=removal_policy,
            empty_on_delete=removal_policy == cdk.RemovalPolicy.DESTROY,
        )
        # CDK leaves AES-256 (ECR's default) out of the template; write it down explicitly.
        cfn_repository = self.repository.node.default_child
        if isinstance(cfn_repository, ecr.CfnRepository) and cfn_repository.encryption_configuration is None:
            cfn_repository.encryption_configuration = ecr.CfnRepository.EncryptionConfigurationProperty(
                encryption_type="AES256"
            )
        self.image = ecr_assets.DockerImageAsset(
            self,
            "Image",
            directory=str(self._build_context(spec)),
            platform=ecr_assets.Platform.LINUX_ARM64,
            exclude=_BUILD_EXCLUDES,
        )
        self.image_tag = self.image.asset_hash
        self.image_uri = f"{self.repository.repository_uri}:{self.image_tag}"
        copier = image_copier_role(self)
        self.deployment = ecr_deployment.ECRDeployment(
            self,
            "CopyImage",
            src=ecr_deployment.DockerImageName(self.image.image_uri),
            dest=ecr_deployment.DockerImageName(f"{self.repository.repository_uri}:{self.image_tag}"),
            # The copier takes amd64 out of a multi-architecture index unless told otherwise.
            image_arch=["arm64"],
            # The construct's own grants (ecr:* push and s3:GetObject on "*") are dropped.
            role=copier.without_policy_updates(),
        )
        self.image.repository.grant_pull(copier)
        self.repository.grant_pull_push(copier)
        self.deployment.node.add_dependency(copier)  # its policy exists before the copy runs
        environment = {"DOCKER_CONTAINER": "1", **dict(spec.environment), **dict(environment or {})}
        self.runtime = agentcore.Runtime(
            self,
            "Runtime",
            runtime_name=spec.agent_id,
            description=spec.description or None,
            agent_runtime_artifact=agentcore.AgentRuntimeArtifact.from_ecr_repository(self.repository, self.image_tag),
            environment_variables=environment,
            lifecycle_configuration=agentcore.LifecycleConfiguration(
                idle_runtime_session_timeout=cdk.Duration.seconds(spec.idle_timeout_seconds),
                max_lifetime=cdk.Duration.seconds(spec.max_lifetime_seconds),
            ),
            # X-Ray traces of the runtime, joined to the invoker's by the traceParent it sends
            tracing_enabled=True,
        )
        # The tag must exist in the repository before AgentCore pulls it.
        self.runtime.node.add_dependency(self.deployment)
        if spec.model_ids:
            self.runtime.add_to_role_policy(
                iam.PolicyStatement(
                    sid="InvokeConfiguredModels",
                    actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                    resources=sorted({arn for model_id in spec.model_ids for arn in model_resource_arns(model_id)}),
                )
            )
        self.log_group = logs.LogGroup(
            self,
            "RuntimeLogGroup",
            log_group_name=f"/aws/bedrock-agentcore/runtimes/{self.runtime.agent_runtime_id}-{RUNTIME_ENDPOINT}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self._suppress_nag_findings()

    def _build_context(self, spec: AgentSpec) -> Path:
        """The Docker build context: the agent folder plus ``stepgraph_runtime/`` (async steps' helper).

        Staged under the app's output folder (``<outdir>/agent-build/<agent id>/``), so an
        agent's ``main.py`` imports ``stepgraph_runtime.async_agent`` in its image as it does
        locally; the image asset fingerprints the staged folder.
        """
        import stepgraph_runtime

        staged = Path(cdk.Stage.of(self).outdir) / "agent-build" / spec.agent_id
        if staged.exists():
            shutil.rmtree(staged)
        ignore = shutil.ignore_patterns(*_BUILD_EXCLUDES)
        shutil.copytree(spec.path, staged, ignore=ignore)
        shutil.copytree(Path(stepgraph_runtime.__file__).resolve().parent, staged / "stepgraph_runtime", ignore=ignore,
                        dirs_exist_ok=True)
        return staged

    def add_environment(self, name: str, value: str) -> None:
        """Set one more environment variable of the runtime (plain settings and ARNs, never secrets).

        The AgentCore L2 takes its environment only at construction; this writes the variable
        into the ``AWS::BedrockAgentCore::Runtime`` resource, over a value of the same name
        from ``agent.json``.
        """
        runtime = self.runtime.node.default_child
        if not isinstance(runtime, agentcore.CfnRuntime):  # pragma: no cover - the L2's own child
            raise TypeError(f"{self.runtime.node.path} has no CfnRuntime to set {name} on")
        runtime.add_property_override(f"EnvironmentVariables.{name}", value)

    def _suppress_nag_findings(self) -> None:
        acknowledge(
            self.runtime,
            "Annotation::aws-cdk-lib.aws-bedrockagentcore:containerUriValidationSkipped",
            "The container URI names the owned repository and the asset-hash tag, both tokens "
            "until deploy time; the copy (cdk_ecr_deployment) guarantees the tag exists.",
        )
        role = self.runtime.role
        log_group_arn = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Granted by the AgentCore L2 as the service documents for a runtime's execution role "
            "(runtime-permissions): the runtime creates its own log group and streams under "
            "/aws/bedrock-agentcore/runtimes/, and logs:DescribeLogGroups only takes "
            "log-group:*. The names are only known once the runtime exists.",
            findings=[
                f"Resource::{log_group_arn}/aws/bedrock-agentcore/runtimes/*",
                f"Resource::{log_group_arn}/aws/bedrock-agentcore/runtimes/*:log-stream:*",
                f"Resource::{log_group_arn}*",
            ],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken, xray:PutTraceSegments/PutTelemetryRecords/"
            "GetSamplingRules/GetSamplingTargets and cloudwatch:PutMetricData (bound to the "
            "bedrock-agentcore namespace by a condition) support no resource-level permissions.",
            findings=["Resource::*"],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Workload access tokens are issued for the runtime's own workload identity, which "
            "AgentCore creates in the default directory under a name it chooses; the L2 grants "
            "the default directory's workload identities.",
            findings=[
                "Resource::arn:<AWS::Partition>:bedrock-agentcore:<AWS::Region>:<AWS::AccountId>:"
                "workload-identity-directory/default/workload-identity/*"
            ],
        )
        acknowledge_matching(
            role,
            "AwsSolutions-IAM5",
            "A cross-region inference profile routes each request to the named foundation model "
            "in any region of its geography, so the model is granted in every region "
            "(bedrock:*::foundation-model/<model id>); the model id itself is not a wildcard.",
            pattern=r"Resource::arn:<AWS::Partition>:bedrock:\*::foundation-model/[^*]+",
        )
