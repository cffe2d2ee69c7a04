"""WorkflowsStack: the handler Lambdas and one state machine per workflow, granted exactly what it calls."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workflows(fixture_app):
    stack = fixture_app.stacks.workflows
    return stack, fixture_app.template(stack), fixture_app.template_json(stack)


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _statements(template: dict, role_logical_id: str) -> list[dict]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": role_logical_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _logical_id(stack, construct) -> str:
    return stack.resolve(construct.node.default_child.logical_id)


def test_invoker_is_python312_arm64_traced_with_its_own_log_group(fixture_app, workflows):
    stack, template, _ = workflows
    log_group_id = _logical_id(stack, stack.invoker.log_group)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.lambda_handler",
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Timeout": 900,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogGroup": {"Ref": log_group_id}},
            "Environment": {"Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": "invoke_agent"})},
        },
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": fixture_app.settings.log_retention_days}
    )


def test_invoker_uses_the_pinned_powertools_layer_release(fixture_app, workflows):
    stack, _, template = workflows
    function = template["Resources"][_logical_id(stack, stack.invoker.function)]
    (layer,) = function["Properties"]["Layers"]
    parameter = template["Parameters"][layer["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    version = fixture_app.settings.powertools_version
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.12/{version}"
    # The layer release is the library the handlers are tested with locally.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = [d for extra in pyproject["project"]["optional-dependencies"].values() for d in extra]
    assert any(re.fullmatch(rf"aws-lambda-powertools(\[[^\]]*\])?=={re.escape(version)}", pin) for pin in pins), pins


def test_invoker_may_invoke_exactly_the_runtimes_workflows_use(fixture_app, workflows):
    stack, _, template = workflows
    statements = [
        s
        for s in _statements(template, _logical_id(stack, stack.invoker.role))
        if "bedrock-agentcore:InvokeAgentRuntime" in _as_list(s["Action"])
    ]
    assert len(statements) == 1
    resources = statements[0]["Resource"]
    assert len(resources) == 2
    rendered = [json.dumps(r) for r in resources]
    assert all("AgentRuntimeArn" in r for r in rendered)
    assert any(r.endswith('"/*"]]}') for r in rendered)
    assert "*" not in resources


def test_state_machines_log_everything_and_trace(fixture_app, workflows):
    _, template, _ = workflows
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == len(fixture_app.project.workflows) == 2
    for machine in machines.values():
        props = machine["Properties"]
        assert props["LoggingConfiguration"]["Level"] == "ALL"
        assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
        assert props["TracingConfiguration"] == {"Enabled": True}
        assert props["StateMachineType"] == "STANDARD"


def test_state_machine_runs_the_compiled_definition_with_exactly_its_substitutions(fixture_app, workflows):
    stack, _, template = workflows
    for name, compiled in fixture_app.compiled.items():
        machine = stack.state_machines[name]
        props = template["Resources"][_logical_id(stack, machine.state_machine)]["Properties"]
        assert props["StateMachineName"] == f"{fixture_app.settings.stack_prefix}-{name}"
        assert props["DefinitionString"] == compiled.to_json()
        assert set(props["DefinitionSubstitutions"]) == set(compiled.substitution_keys)


def test_state_machine_role_is_scoped_to_what_the_definition_calls(fixture_app, workflows):
    stack, _, template = workflows
    invoker_arn = {"Fn::GetAtt": [_logical_id(stack, stack.invoker.function), "Arn"]}
    for name, compiled in fixture_app.compiled.items():
        role_id = _logical_id(stack, stack.state_machines[name].state_machine.role)
        statements = _statements(template, role_id)
        by_action = {a: s for s in statements for a in _as_list(s["Action"])}
        for action in ("s3:PutObject", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"):
            assert by_action[action]["Resource"] != "*", action
        assert json.dumps(by_action["s3:PutObject"]["Resource"]).endswith(f'"/results/{name}/*"]]}}')
        if compiled.agent_ids:
            assert by_action["lambda:InvokeFunction"]["Resource"] == invoker_arn
        else:
            assert "lambda:InvokeFunction" not in by_action
        for statement in statements:
            actions = _as_list(statement["Action"])
            if statement["Resource"] == "*":  # logging and X-Ray only
                assert all(a.startswith(("logs:", "xray:")) for a in actions), actions


def test_state_machine_log_groups_use_the_vended_logs_prefix(workflows):
    _, template, _ = workflows
    names = [
        json.dumps(r["Properties"].get("LogGroupName"))
        for r in template.find_resources("AWS::Logs::LogGroup").values()
        if "LogGroupName" in r["Properties"]
    ]
    assert len([n for n in names if "/aws/vendedlogs/states/" in n]) == 2


def test_only_handlers_the_workflows_call_are_deployed(workflows):
    stack, template, _ = workflows
    assert set(stack.handlers) == {"InvokeAgentFunctionArn"}
    template.resource_count_is("AWS::Lambda::Function", 1)
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 0)


def test_workflows_output_every_state_machine_arn(fixture_app, workflows):
    stack, template, _ = workflows
    outputs = template.to_json()["Outputs"]
    for name in fixture_app.project.workflows:
        machine_id = _logical_id(stack, stack.state_machines[name].state_machine)
        matching = [o for o in outputs.values() if o["Value"] == {"Ref": machine_id}]
        assert len(matching) == 1, name
    assert "InvokeAgentFunctionArn" in outputs


def test_every_log_group_of_the_app_has_the_retention(fixture_app):
    for stack in fixture_app.stacks.all():
        for logical_id, group in fixture_app.template(stack).find_resources("AWS::Logs::LogGroup").items():
            assert group["Properties"].get("RetentionInDays") == fixture_app.settings.log_retention_days, logical_id


def test_invoker_offloads_large_outputs_to_the_payloads_prefix_only(fixture_app, workflows):
    stack, _, template = workflows
    function = template["Resources"][_logical_id(stack, stack.invoker.function)]
    assert "PAYLOADS_BUCKET" in function["Properties"]["Environment"]["Variables"]
    statements = [
        s for s in _statements(template, _logical_id(stack, stack.invoker.role)) if "s3:GetObject" in _as_list(s["Action"])
    ]
    assert len(statements) == 1
    assert sorted(_as_list(statements[0]["Action"])) == ["s3:GetObject", "s3:PutObject"]
    assert json.dumps(statements[0]["Resource"]).endswith('"/payloads/*"]]}')


def test_invoker_asset_holds_the_shared_offload_module(fixture_app, workflows):
    stack, _, template = workflows
    function = template["Resources"][_logical_id(stack, stack.invoker.function)]
    s3_key = function["Properties"]["Code"]["S3Key"]
    asset = fixture_app.outdir / f"asset.{s3_key.removesuffix('.zip')}"
    assert (asset / "handler.py").is_file()
    assert (asset / "stepgraph_offload.py").is_file()
    # requirements.txt pins boto3 (the runtime's copy may predate bedrock-agentcore): installed.
    assert (asset / "boto3").is_dir() and (asset / "botocore").is_dir()
