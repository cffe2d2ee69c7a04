"""The execution HTTP API on AWS: API Gateway (REST, response streaming) → Lambda Web Adapter → the FastAPI app.

One construct holds what the deployed API is made of (SPEC §9, §14):

* the **API function**: ``stepgraph.api`` (the same application ``stepgraph serve`` runs) started
  by ``run.sh`` under the Lambda Web Adapter layer (``AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap``,
  ``AWS_LWA_INVOKE_MODE=response_stream``), so ``GET /api/executions/{id}/stream`` streams;
* a **REST API** whose ``/api/{proxy+}`` method uses a Lambda proxy integration in
  ``ResponseTransferMode.STREAM`` (HTTP APIs and ALBs buffer), a **Cognito user pool
  authorizer** on every method, access logs to a log group with retention, and throttling;
* the **approvals decider** function, the only principal that reads task tokens and calls
  ``states:SendTaskSuccess``/``SendTaskFailure``; only the API function may invoke it;
* the **stream deltas** table the agent invoker writes text chunks to (``stepgraph_runtime.deltas``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stepgraph.approvals import PUBLIC_ATTRIBUTES
from stepgraph_runtime import env
from stepgraph_runtime.deltas import TABLE_ENV

from .encrypted_table import encrypted_table
from .nag import acknowledge, acknowledge_matching
from .local_bundle import lambda_code

__all__ = ["HttpApi", "WEB_ADAPTER_ACCOUNT", "WEB_ADAPTER_LAYER_VERSION", "web_adapter_layer_arn"]

#: The account that publishes the Lambda Web Adapter layers (awslabs/aws-lambda-web-adapter README).
WEB_ADAPTER_ACCOUNT = "753240598075"
#: The adapter release (layer version 26 = adapter 1.0.x, which overwrites client-sent
#: ``x-amzn-request-context`` headers, changelog 1.0.0 #286).
WEB_ADAPTER_LAYER_VERSION = 26
ASSET = Path(__file__).resolve().parent / "http_api_asset"
#: Requests per second (steady) and burst of the stage; an execution's stream is one long request.
THROTTLE_RATE, THROTTLE_BURST = 50, 100


def web_adapter_layer_arn(region: str, *, version: int = WEB_ADAPTER_LAYER_VERSION) -> str:
    """The public arm64 Lambda Web Adapter layer of ``region``.

    Examples
    --------
    >>> web_adapter_layer_arn("us-east-1")
    'arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerArm64:26'
    """
    return f"arn:aws:lambda:{region}:{WEB_ADAPTER_ACCOUNT}:layer:LambdaAdapterLayerArm64:{version}"


class HttpApi(Construct):
    """The deployed execution API (see the module docstring).

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    project_root:
        The project: its ``workflows/`` are bundled into the API function (with the ``stepgraph``
        package this app imports).
    state_machines:
        The workflows' state machines by workflow name: the API may start, list, describe,
        read the history of and stop their executions, nothing else.
    state_machine_names:
        Their names (``stacks.naming.state_machine_name``), by workflow name.
    approvals_table:
        The approval requests table, or ``None`` (no workflow has a ``human_approval`` step).
    invoker_role, invoker_function:
        The agent invoker (``lambdas/invoke_agent``): it may put items into the deltas table,
        and learns the table's name from ``STREAM_DELTAS_TABLE``.
    agents, tools:
        Agent ids and tool names ``POST /api/workflows`` validates against.
    name_prefix:
        Prefix of the deltas table's name (it is named so the invoker, in another stack, can
        be told its name without a reference back).
    log_retention, removal_policy:
        Of the log groups and the tables.

    Attributes
    ----------
    api:
        The ``RestApi`` (stage ``v1``; the routes are under ``/api``).
    function, decider:
        The API function and the approvals decider.
    user_pool, user_pool_client:
        Who may call the API (self sign-up closed: an administrator creates approvers).
    user_pool_domain, console_client, console_url:
        The web console's sign-in: the hosted UI's domain, its public app client (code flow with
        PKCE, callback the console's URL), and that URL (the stage, ``…/v1/``).
    deltas_table, access_logs:
        The stream chunks table and the stage's access log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_root: Path,
        state_machines: Mapping[str, sfn.IStateMachine],
        state_machine_names: Mapping[str, str],
        approvals_table: dynamodb.ITableV2 | None,
        invoker_role: iam.IRole,
        invoker_function: lambda_.Function,
        agents: list[str],
        tools: list[str],
        name_prefix: str,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        deltas_name = f"{name_prefix}-stream-deltas"
        self.deltas_table = encrypted_table(self, "DeltasTable", table_name=deltas_name, partition_key="execution",
                                            sort_key=("seq", dynamodb.AttributeType.NUMBER), ttl_attribute="ttl",
                                            removal_policy=removal_policy)
        # The invoker lives in the workflows stack: a policy of this stack on its role, and the
        # table's literal name in its environment, keep the references one way (API -> workflows).
        iam.Policy(self, "InvokerPublishesDeltas", roles=[invoker_role], statements=[iam.PolicyStatement(
            actions=["dynamodb:PutItem"], resources=[self.deltas_table.table_arn])])
        invoker_function.add_environment(TABLE_ENV, deltas_name)

        import stepgraph
        import stepgraph_runtime

        # the core package this app was built with (stepgraph imports stepgraph_runtime), and the
        # project's workflow documents
        extras = {"stepgraph": Path(stepgraph.__file__).resolve().parent,
                  "stepgraph_runtime": Path(stepgraph_runtime.__file__).resolve().parent,
                  "workflows": project_root / "workflows"}
        if (project_root / "examples").is_dir():  # example inputs prefill the console's Run editor
            extras["examples"] = project_root / "examples"
        code = lambda_code(ASSET, extras)
        self.function, function_role = self._function(
            "Function", code=code, handler="run.sh", description="stepgraph execution HTTP API (FastAPI on the Lambda Web Adapter)",
            timeout=cdk.Duration.minutes(15), memory_size=1024, log_retention=log_retention, removal_policy=removal_policy,
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "WebAdapter", web_adapter_layer_arn(stack.region))],
            environment={
                "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap", "AWS_LWA_INVOKE_MODE": "response_stream", "PORT": "8080",
                "AWS_LWA_READINESS_CHECK_PATH": "/health",
                # ARNs from the deterministic names: no cross-stack reference inside the JSON text
                "STEPGRAPH_STATE_MACHINES": stack.to_json_string({n: stack.format_arn(
                    service="states", resource="stateMachine", resource_name=state_machine_names[n],
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME) for n in sorted(state_machines)}),
                "STEPGRAPH_PROJECT_ROOT": "/var/task", "STEPGRAPH_AGENTS": json.dumps(sorted(agents)),
                "STEPGRAPH_TOOLS": json.dumps(sorted(tools)), TABLE_ENV: self.deltas_table.table_name,
            })
        # ARNs built from the deterministic names (what grant_execution would derive with
        # Fn::Split of a cross-stack reference, which cfn-lint rejects).
        names = [state_machine_names[n] for n in sorted(state_machines)]
        function_role.add_to_principal_policy(iam.PolicyStatement(
            sid="StartAndListExecutions", actions=["states:StartExecution", "states:ListExecutions"],
            resources=[stack.format_arn(service="states", resource="stateMachine", resource_name=n,
                                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME) for n in names]))
        function_role.add_to_principal_policy(iam.PolicyStatement(
            sid="FollowAndStopExecutions",
            actions=["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
            resources=[stack.format_arn(service="states", resource="execution", resource_name=f"{n}:*",
                                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME) for n in names]))
        acknowledge_matching(
            function_role, "AwsSolutions-IAM5",
            "Executions are named at run time (api-<uuid>): DescribeExecution, GetExecutionHistory and StopExecution "
            "are allowed on <state machine>:* execution ARNs of the app's own state machines only.",
            pattern=r"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*")
        self.deltas_table.grant(function_role, "dynamodb:Query")

        self.decider: lambda_.Function | None = None
        if approvals_table is not None:
            self.decider, decider_role = self._function(
                "ApprovalDecider", code=code, handler="stepgraph.api.decider.lambda_handler",
                description="Decides human approvals for the HTTP API: the only reader of task tokens",
                timeout=cdk.Duration.seconds(30), memory_size=512, log_retention=log_retention, removal_policy=removal_policy,
                environment={"APPROVALS_TABLE_NAME": approvals_table.table_name},
                star_reason=" SendTaskSuccess/SendTaskFailure take a task token and support no resource-level "
                            "permissions either; this role is the only one allowed them, and only the API function "
                            "may invoke this function.")
            approvals_table.grant(decider_role, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Scan")
            decider_role.add_to_principal_policy(iam.PolicyStatement(
                sid="ResumeApprovedExecutions", actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=["*"]))
            # The unqualified ARN only (grant_invoke would add <arn>:* for versions and aliases).
            function_role.add_to_principal_policy(iam.PolicyStatement(
                sid="InvokeApprovalDecider", actions=["lambda:InvokeFunction"], resources=[self.decider.function_arn]))
            # Listing approvals: every attribute but the task token (ApprovalStore's projection).
            function_role.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadApprovalsWithoutTokens", actions=["dynamodb:Scan", "dynamodb:GetItem"],
                resources=[approvals_table.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:Attributes": list(PUBLIC_ATTRIBUTES)},
                            "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}))
            self.function.add_environment("APPROVALS_TABLE_NAME", approvals_table.table_name)
            self.function.add_environment("APPROVAL_DECIDER_FUNCTION", self.decider.function_name)

        self.user_pool = cognito.UserPool(
            self, "Users", self_sign_up_enabled=False, sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(email=cognito.StandardAttribute(required=True, mutable=False)),
            mfa=cognito.Mfa.REQUIRED, mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(min_length=14, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY, feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            removal_policy=removal_policy,
        )
        self.user_pool_client = self.user_pool.add_client(
            "CommandLine", auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False,
            prevent_user_existence_errors=True, id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1))

        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        self.api = apigateway.RestApi(
            self, "Api", description="stepgraph execution API (SPEC §9)", cloud_watch_role=True,
            cloud_watch_role_removal_policy=removal_policy,
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            deploy_options=apigateway.StageOptions(
                stage_name="v1", tracing_enabled=True, metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR, data_trace_enabled=False,
                throttling_rate_limit=THROTTLE_RATE, throttling_burst_limit=THROTTLE_BURST,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True)),
        )
        authorizer = apigateway.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])
        validator = self.api.add_request_validator("Parameters", validate_request_parameters=True)
        integration = apigateway.LambdaIntegration(
            self.function, response_transfer_mode=apigateway.ResponseTransferMode.STREAM, timeout=cdk.Duration.minutes(15))
        proxy = self.api.root.add_resource("api").add_resource("{proxy+}")
        proxy.add_method("ANY", integration, authorizer=authorizer, authorization_type=apigateway.AuthorizationType.COGNITO,
                         request_validator=validator)
        # The web console (stepgraph/api/static): its page, files and sign-in settings are public,
        # like any sign-in page; everything it reads goes through the Cognito-protected /api routes.
        console_methods = [self.api.root.add_method("GET", integration),
                           self.api.root.add_resource("config.json").add_method("GET", integration),
                           self.api.root.add_resource("console").add_resource("{proxy+}").add_method("GET", integration)]
        for method in console_methods:
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(method, rule, "The web console's static page, its JavaScript/CSS and config.json (the "
                            "public Cognito domain and app client id) are served without authorization so a browser "
                            "can load the sign-in; no data is served here: every /api route has the Cognito authorizer.")
        # The console signs in through the hosted UI (authorization code flow with PKCE, no
        # client secret); its callback is the stage URL, built from the API id alone so the
        # function's environment can name the client without a dependency cycle.
        console_url = f"https://{self.api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/v1/"
        self.user_pool_domain = self.user_pool.add_domain("ConsoleDomain", cognito_domain=cognito.CognitoDomainOptions(
            domain_prefix=f"{name_prefix}-console-{stack.account}"))
        self.console_client = self.user_pool.add_client(
            "Console", generate_secret=False, prevent_user_existence_errors=True,
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            o_auth=cognito.OAuthSettings(flows=cognito.OAuthFlows(authorization_code_grant=True),
                                         scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                                         callback_urls=[console_url], logout_urls=[console_url]),
            id_token_validity=cdk.Duration.hours(1), access_token_validity=cdk.Duration.hours(1))
        self.function.add_environment(env.CONSOLE_AUTH, stack.to_json_string({
            "domain_url": self.user_pool_domain.base_url(), "client_id": self.console_client.user_pool_client_id}))
        self.console_url = console_url
        acknowledge(self.api, "AwsSolutions-APIG2",
                    "Bodies are validated by the application's pydantic models (every problem listed in one 400); "
                    "a proxy method has no API Gateway model to check them against.")
        acknowledge(self.api, "AwsSolutions-APIG3",
                    "No WAF web ACL by default: every method requires a Cognito token, the stage is throttled, and a "
                    "web ACL can be associated with the stage without changing the app.")
        acknowledge(self.api, "AwsSolutions-IAM4",
                    "API Gateway's account-level CloudWatch role uses the AWS managed policy "
                    "AmazonAPIGatewayPushToCloudWatchLogs, which API Gateway requires for execution logs.",
                    findings=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"])

    def _function(self, construct_id: str, *, code: lambda_.Code, handler: str, description: str, timeout: cdk.Duration,
                  memory_size: int, log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy,
                  environment: Mapping[str, str], layers: list[lambda_.ILayerVersion] | None = None,
                  star_reason: str = "") -> tuple[lambda_.Function, iam.Role]:
        log_group = logs.LogGroup(self, f"{construct_id}Logs", retention=log_retention, removal_policy=removal_policy)
        role = iam.Role(self, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"Execution role of the {construct_id} function of the HTTP API")
        log_group.grant_write(role)
        function = lambda_.Function(
            self, construct_id, runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64,
            handler=handler, code=code, description=description, timeout=timeout, memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE, log_group=log_group, role=role, layers=layers or None,
            environment=dict(environment))
        acknowledge(role, "AwsSolutions-IAM5", "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, "
                    "which support no resource-level permissions." + star_reason, findings=["Resource::*"])
        acknowledge(function, "AwsSolutions-L1", "Pinned to Python 3.12 like every handler of the app (tested there).")
        return function, role
