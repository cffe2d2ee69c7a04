"""The deployed HTTP API (SPEC §9, §14): streaming front door, Cognito on every method, logs, throttling, IAM."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import stepgraph
from stepgraph.approvals import PUBLIC_ATTRIBUTES
from template_reading import as_list, environment, logical_id, render, resources_of_type, role_statements

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(repo_app):
    stack = repo_app.stacks.api
    return stack, repo_app.template_json(stack)


def _all_templates(repo_app) -> dict[str, dict]:
    return {s.stack_name: repo_app.template_json(s) for s in repo_app.stacks.all()}


def _method_path(template: dict, method: dict) -> str:
    """``/api/{proxy+}``, ``/`` … of a method, from the parts of its resources."""
    resources = template["Resources"]
    parts: list[str] = []
    ref = method["Properties"]["ResourceId"]
    while isinstance(ref, dict) and "Ref" in ref:
        resource = resources[ref["Ref"]]["Properties"]
        parts.insert(0, resource["PathPart"])
        ref = resource["ParentId"]
    return "/" + "/".join(parts)


def test_every_api_method_requires_the_cognito_authorizer_and_only_the_console_files_are_public(api):
    stack, template = api
    methods = resources_of_type(template, "AWS::ApiGateway::Method")
    assert methods, "the API has no method"
    (authorizer_id, authorizer), = resources_of_type(template, "AWS::ApiGateway::Authorizer").items()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert render(authorizer["Properties"]["ProviderARNs"][0]) == f"<{logical_id(stack, stack.http.user_pool)}.Arn>"
    public = set()
    for method in methods.values():
        path = _method_path(template, method)
        if path.startswith("/api"):
            assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS", path
            assert method["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}, path
        else:
            assert method["Properties"]["AuthorizationType"] == "NONE", path
            public.add((method["Properties"]["HttpMethod"], path))
    assert public == {("GET", "/"), ("GET", "/config.json"), ("GET", "/console/{proxy+}")}


def test_console_signs_in_with_the_hosted_ui_code_flow_and_its_own_url(api):
    stack, template = api
    clients = resources_of_type(template, "AWS::Cognito::UserPoolClient")
    console = clients[logical_id(stack, stack.http.console_client)]["Properties"]
    assert console["AllowedOAuthFlows"] == ["code"] and console["GenerateSecret"] is False
    assert set(console["AllowedOAuthScopes"]) == {"openid", "email"}
    api_id = logical_id(stack, stack.http.api)
    assert render(console["CallbackURLs"][0]).startswith(f"https://<{api_id}>.execute-api.")
    assert render(console["CallbackURLs"][0]).endswith("/v1/")
    function = resources_of_type(template, "AWS::Lambda::Function")[logical_id(stack, stack.http.function)]
    settings = render(function["Properties"]["Environment"]["Variables"]["STEPGRAPH_CONSOLE_AUTH"])
    assert "client_id" in settings and "domain_url" in settings


def test_api_streams_responses_from_the_function_through_the_web_adapter(api):
    stack, template = api
    for method in resources_of_type(template, "AWS::ApiGateway::Method").values():  # /api and the console's files
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY" and integration["ResponseTransferMode"] == "STREAM"
        assert render(integration["Uri"]).endswith("/response-streaming-invocations")
        assert integration["TimeoutInMillis"] == 15 * 60 * 1000
    function_id = logical_id(stack, stack.http.function)
    function = template["Resources"][function_id]["Properties"]
    assert function["Handler"] == "run.sh" and function["Architectures"] == ["arm64"]
    assert render(function["Layers"][0]) == "arn:aws:lambda:<AWS::Region>:753240598075:layer:LambdaAdapterLayerArm64:26"
    env = environment(template, function_id)
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap" and env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    machines = render(env["STEPGRAPH_STATE_MACHINES"])
    assert ":stateMachine:Stepgraph-refund-approval" in machines and ":stateMachine:Stepgraph-customer-support" in machines


def test_stage_has_access_logs_with_retention_and_throttling(api):
    stack, template = api
    (stage,) = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    log_group_id = logical_id(stack, stack.http.access_logs)
    assert render(properties["AccessLogSetting"]["DestinationArn"]).endswith(f":log-group:<{log_group_id}>")
    log_format = properties["AccessLogSetting"]["Format"]
    assert "$context.identity.user" in log_format and "$context.status" in log_format
    assert template["Resources"][log_group_id]["Properties"]["RetentionInDays"] > 0
    (settings,) = properties["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)
    assert properties["TracingEnabled"] is True


def test_user_pool_is_closed_to_sign_up_and_requires_mfa(api):
    _, template = api
    (pool,) = resources_of_type(template, "AWS::Cognito::UserPool").values()
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert properties["MfaConfiguration"] == "ON"
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] >= 14


def test_only_the_decider_may_send_task_results_and_read_task_tokens(repo_app, api):
    stack, template = api
    decider_role = logical_id(stack, stack.http.decider.role)
    api_role = logical_id(stack, stack.http.function.role)
    senders = []
    for name, tpl in _all_templates(repo_app).items():
        for policy_id, policy in resources_of_type(tpl, "AWS::IAM::Policy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = as_list(statement["Action"])
                if any(a in ("states:SendTaskSuccess", "states:SendTaskFailure", "states:*", "*") for a in actions):
                    roles = [render(r) for r in policy["Properties"]["Roles"]]
                    if all("RuntimeExecutionRole" in r for r in roles):
                        # an agent called with `mode: async` answers its own task token (issue 14): only on
                        # the state machines that call it that way; it reads no approvals (checked below
                        # and in tests/infra/test_task_tokens.py), so it never holds an approval's token
                        assert all(":stateMachine:" in render(r) or "StateMachine" in render(r)
                                   for r in as_list(statement["Resource"])), (name, statement)
                        continue
                    senders.append((name, roles))
    assert senders == [(stack.stack_name, [f"<{decider_role}>"])]
    # the API function reads approvals only with the token attribute left out
    reads = [s for s in role_statements(template, api_role) if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
             and "ApprovalsTable" in json.dumps(s["Resource"])]
    assert reads, "the API cannot list approvals"
    for statement in reads:
        allowed = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        assert "task_token" not in allowed and set(allowed) == set(PUBLIC_ATTRIBUTES)
        assert set(as_list(statement["Action"])) <= {"dynamodb:Scan", "dynamodb:GetItem"}
    # and nobody else in the app may read the table's items
    for name, tpl in _all_templates(repo_app).items():
        for policy in resources_of_type(tpl, "AWS::IAM::Policy").values():
            roles = [render(r) for r in policy["Properties"]["Roles"]]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                reading = {"dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem"} & set(as_list(statement["Action"]))
                if reading and "ApprovalsTable" in json.dumps(statement["Resource"]):
                    assert roles in ([f"<{decider_role}>"], [f"<{api_role}>"]), (name, roles)
                    if roles == [f"<{api_role}>"]:
                        assert "Condition" in statement


def test_only_the_api_function_may_invoke_the_decider(repo_app, api):
    stack, template = api
    decider_id = logical_id(stack, stack.http.decider)
    invokers = []
    for tpl in _all_templates(repo_app).values():
        for policy in resources_of_type(tpl, "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if "lambda:InvokeFunction" in as_list(statement["Action"]) and decider_id in json.dumps(statement["Resource"]):
                    invokers += [render(r) for r in policy["Properties"]["Roles"]]
                    assert as_list(statement["Resource"]) == [{"Fn::GetAtt": [decider_id, "Arn"]}]
    assert invokers == [f"<{logical_id(stack, stack.http.function.role)}>"]
    assert not resources_of_type(template, "AWS::Lambda::Permission") or all(
        decider_id not in json.dumps(p["Properties"]["FunctionName"])
        for p in resources_of_type(template, "AWS::Lambda::Permission").values())


def test_api_may_only_run_and_follow_the_apps_state_machines(api):
    stack, template = api
    statements = role_statements(template, logical_id(stack, stack.http.function.role))
    states = [s for s in statements if any(a.startswith("states:") for a in as_list(s["Action"]))]
    actions = {a for s in states for a in as_list(s["Action"])}
    assert actions == {"states:StartExecution", "states:ListExecutions", "states:DescribeExecution",
                       "states:GetExecutionHistory", "states:StopExecution"}
    for statement in states:
        for resource in as_list(statement["Resource"]):
            text = render(resource)
            assert ":stateMachine:Stepgraph-" in text or ":execution:Stepgraph-" in text, text
            assert text != "*"


def test_invoker_publishes_deltas_to_the_api_table(repo_app, api):
    stack, template = api
    workflows = repo_app.stacks.workflows
    invoker_env = environment(repo_app.template_json(workflows), logical_id(workflows, workflows.invoker.function))
    table = template["Resources"][logical_id(stack, stack.http.deltas_table)]["Properties"]
    assert invoker_env["STREAM_DELTAS_TABLE"] == table["TableName"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    (policy,) = [p for p in resources_of_type(template, "AWS::IAM::Policy").values()
                 if any(as_list(s["Action"]) == ["dynamodb:PutItem"] for s in p["Properties"]["PolicyDocument"]["Statement"])]
    (role,) = policy["Properties"]["Roles"]
    assert "InvokeAgent" in json.dumps(role)  # the invoker's role, exported by the workflows stack
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert render(statement["Resource"]) == f"<{logical_id(stack, stack.http.deltas_table)}.Arn>"


def _asset(repo_app, stack, function) -> Path:
    s3_key = repo_app.template_json(stack)["Resources"][logical_id(stack, function)]["Properties"]["Code"]["S3Key"]
    return repo_app.outdir / f"asset.{s3_key.removesuffix('.zip')}"


def test_assets_hold_the_api_app_and_the_invokers_delta_publisher(repo_app, api):
    stack, _ = api
    bundle = _asset(repo_app, stack, stack.http.function)
    assert (bundle / "run.sh").stat().st_mode & 0o111, "run.sh must be executable"
    assert (bundle / "stepgraph" / "api" / "aws.py").is_file() and (bundle / "workflows" / "refund-approval.json").is_file()
    assert (bundle / "stepgraph" / "api" / "static" / "index.html").is_file()  # the console
    assert (bundle / "examples" / "refund-approval.input.json").is_file()  # its Run editor's example inputs
    assert all((bundle / package).is_dir() for package in ("fastapi", "sse_starlette", "uvicorn", "pydantic_core"))
    workflows = repo_app.stacks.workflows
    invoker = _asset(repo_app, workflows, workflows.invoker.function)
    import stepgraph_runtime  # the delta publisher travels inside the runtime package every function bundles

    assert (invoker / "stepgraph_runtime" / "deltas.py").read_text() == (Path(stepgraph_runtime.__file__).parent / "deltas.py").read_text()


def test_the_api_functions_core_package_imports_from_its_asset_alone(repo_app, api):
    # GIVEN the HTTP API function's bundle and an interpreter that sees nothing else (-S: no site-packages)
    stack, _ = api
    bundle = _asset(repo_app, stack, stack.http.function)
    code = ("import sys; sys.path[:0] = [sys.argv[1]]; import stepgraph, stepgraph.errors, stepgraph.project, "
            "stepgraph.compiler; print(stepgraph.__file__)")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(bundle)], capture_output=True, text=True, cwd=bundle.parent)
    # THEN stepgraph and what it imports (stepgraph_runtime) come from the bundle (pydantic_core and
    # the other compiled wheels are arm64, so the FastAPI app itself cannot load on this machine)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(bundle / "stepgraph" / "__init__.py")
