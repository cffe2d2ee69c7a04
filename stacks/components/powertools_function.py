"""A Python 3.12 arm64 Lambda function with Powertools, X-Ray and a log group of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from .local_bundle import lambda_code
from .nag import acknowledge

__all__ = ["PowertoolsFunction", "powertools_layer", "powertools_parameter_name"]

#: The account in which AWS publishes the Powertools for AWS Lambda (Python) layers.
POWERTOOLS_ACCOUNT = "017000801446"


def powertools_parameter_name(version: str, *, architecture: str = "arm64", python: str = "python3.12") -> str:
    """Return the public SSM parameter that holds the Powertools v3 layer ARN of one release.

    AWS publishes one parameter per release, architecture and Python version in every region:
    ``/aws/service/powertools/python/<arch>/<python>/<version>``, whose value is
    ``arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-<python>-<arch>:<n>``.

    Examples
    --------
    >>> powertools_parameter_name("3.37.0")
    '/aws/service/powertools/python/arm64/python3.12/3.37.0'
    """
    return f"/aws/service/powertools/python/{architecture}/{python}/{version}"


def powertools_layer(
    scope: Construct,
    construct_id: str,
    *,
    version: str,
    layer_arn: str | None = None,
) -> lambda_.ILayerVersion:
    """Reference the AWS-managed Powertools for AWS Lambda (Python) v3 layer for arm64/Python 3.12.

    The layer is pinned to one release: CloudFormation resolves the release's public SSM
    parameter (``powertools_parameter_name(version)``) at deploy time, in the stack's region,
    so ``cdk synth`` needs no AWS credentials and every region gets its own copy of the same
    release. Keep ``version`` equal to the ``aws-lambda-powertools`` pin of ``pyproject.toml``.

    Parameters
    ----------
    scope, construct_id:
        Where the reference goes.
    version:
        The Powertools release, e.g. ``"3.37.0"``.
    layer_arn:
        A layer version ARN to use instead (a partition or region without the parameter).
        Default: none, resolve the parameter.

    Returns
    -------
    aws_cdk.aws_lambda.ILayerVersion
        The layer.
    """
    if layer_arn is None:
        layer_arn = ssm.StringParameter.value_for_string_parameter(scope, powertools_parameter_name(version))
    return lambda_.LayerVersion.from_layer_version_arn(scope, construct_id, layer_arn)


class PowertoolsFunction(Construct):
    """A Lambda function from ``lambdas/<name>/`` set up the way every handler of this app is.

    Python 3.12 on arm64, handler ``handler.lambda_handler``, X-Ray active tracing, the
    Powertools layer, ``POWERTOOLS_SERVICE_NAME`` set, and a log group of its own with a
    retention (passed as ``log_group``, so Lambda writes there and nowhere else). Its role
    is its own and holds no managed policy: it may write to its log group and X-Ray, and
    gets the rest through grants.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    code_path:
        The handler's folder (holds ``handler.py``).
    service_name:
        ``POWERTOOLS_SERVICE_NAME`` (names the logs, traces and metrics).
    powertools:
        The Powertools layer (see ``powertools_layer``).
    description:
        The function's description. Default: none.
    timeout:
        Default 15 minutes, Lambda's maximum.
    memory_size:
        Default 512 MB.
    environment:
        More environment variables. Default: none.
    bundle:
        Extra files or folders deployed beside ``handler.py``, by path inside the asset
        (``{"tools": Path("tools")}``); copied at synth without Docker. A ``requirements.txt``
        in ``code_path`` is installed into the asset with pip (wheels for arm64, Python 3.12;
        needs PyPI the first time a requirements file is installed, then cached; see
        ``stacks.components.local_bundle``). Default: none.
    log_retention:
        Retention of the log group. Default ``RetentionDays.ONE_MONTH``.
    removal_policy:
        What ``cdk destroy`` does with the log group. Default ``RemovalPolicy.RETAIN``.

    Attributes
    ----------
    function:
        The function.
    log_group:
        Its log group.
    role:
        Its execution role.

    Examples
    --------
    >>> invoker = PowertoolsFunction(stack, "InvokeAgent", code_path=Path("lambdas/invoke_agent"),
    ...                              service_name="invoke_agent", powertools=layer)  # doctest: +SKIP
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_path: Path,
        service_name: str,
        powertools: lambda_.ILayerVersion,
        description: str | None = None,
        timeout: cdk.Duration | None = None,
        memory_size: int = 512,
        environment: Mapping[str, str] | None = None,
        bundle: Mapping[str, Path] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        code_path = Path(code_path)
        if not (code_path / "handler.py").is_file():
            raise FileNotFoundError(f"{code_path}/handler.py does not exist; a Lambda folder holds handler.py")
        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention, removal_policy=removal_policy)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the {service_name} function",
        )
        # Instead of the AWSLambdaBasicExecutionRole managed policy (logs:* on every group).
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.lambda_handler",
            code=lambda_code(code_path, bundle),
            description=description,
            timeout=timeout if timeout is not None else cdk.Duration.minutes(15),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            layers=[powertools],
            log_group=self.log_group,
            role=self.role,
            environment={"POWERTOOLS_SERVICE_NAME": service_name, **dict(environment or {})},
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which "
            "support no resource-level permissions.",
            findings=["Resource::*"],
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to Python 3.12 on purpose: the AWS-managed Powertools v3 layer release and the "
            "handler are pinned and tested for python3.12 on arm64; a newer runtime is a "
            "deliberate, tested change.",
        )
