"""WorkflowsStack: the handler Lambdas and one state machine per workflow, granted exactly what it calls."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from template_reading import logical_id, render, resources_of_type

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
    assert len(machines) == len(fixture_app.project.workflows) == 3
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


def test_state_machine_log_groups_use_the_vended_logs_prefix(fixture_app, workflows):
    _, template, _ = workflows
    names = [
        json.dumps(r["Properties"].get("LogGroupName"))
        for r in template.find_resources("AWS::Logs::LogGroup").values()
        if "LogGroupName" in r["Properties"]
    ]
    assert len([n for n in names if "/aws/vendedlogs/states/" in n]) == len(fixture_app.project.workflows)


def test_only_handlers_the_workflows_call_are_deployed(workflows):
    stack, template, _ = workflows
    assert set(stack.handlers) == {"InvokeAgentFunctionArn"}
    # The invoker, the result-record backstop, the chain function (a fixture workflow has
    # on_complete) and one webhook function (one fixture workflow has a webhook trigger).
    services = sorted(
        f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for f in template.find_resources("AWS::Lambda::Function").values()
    )
    assert services == ["chain", "invoke_agent", "record_backstop", "webhook"]
    # No approvals table (no human_approval step); the one table is the webhook's replay cache.
    assert stack.approvals_table is None
    (table,) = template.find_resources("AWS::DynamoDB::GlobalTable")
    assert table == logical_id(stack, stack.webhooks["webhook-flow"].replays)


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
    # scoped per workflow (issue 11): payloads/<workflow>/* of each deployed workflow, never payloads/*
    resources = _as_list(statements[0]["Resource"])
    assert sorted(json.dumps(r).rsplit("/payloads/", 1)[1] for r in resources) == sorted(
        f'{name}/*"]]}}' for name in stack.state_machines)


def test_invoker_asset_holds_the_shared_offload_module(fixture_app, workflows):
    stack, _, template = workflows
    function = template["Resources"][_logical_id(stack, stack.invoker.function)]
    s3_key = function["Properties"]["Code"]["S3Key"]
    asset = fixture_app.outdir / f"asset.{s3_key.removesuffix('.zip')}"
    assert (asset / "handler.py").is_file()
    assert (asset / "stepgraph_runtime" / "offload.py").is_file()  # the shared runtime package (was stepgraph_offload.py)
    # requirements.txt pins boto3 (the runtime's copy may predate bedrock-agentcore): installed.
    assert (asset / "boto3").is_dir() and (asset / "botocore").is_dir()


def test_distributed_map_may_start_describe_and_stop_only_its_own_child_executions(fixture_app, workflows):
    stack, _, template = workflows
    name = f"{fixture_app.settings.stack_prefix}-webhook-flow"
    prefix = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
    role_id = _logical_id(stack, stack.state_machines["webhook-flow"].state_machine.role)
    states = [s for s in _statements(template, role_id) if any(a.startswith("states:") for a in _as_list(s["Action"]))]
    granted = {(a, render(r)) for s in states for a in _as_list(s["Action"]) for r in _as_list(s["Resource"])}
    assert granted == {
        ("states:StartExecution", f"{prefix}stateMachine:{name}"),
        ("states:DescribeExecution", f"{prefix}execution:{name}/*"),
        ("states:DescribeExecution", f"{prefix}execution:{name}:*"),
        ("states:StopExecution", f"{prefix}execution:{name}/*"),
        ("states:StopExecution", f"{prefix}execution:{name}:*"),
    }


def test_state_machines_without_a_distributed_map_get_no_states_permissions(workflows):
    stack, _, template = workflows
    for name in ("echo-flow", "no-agent"):
        role_id = _logical_id(stack, stack.state_machines[name].state_machine.role)
        actions = [a for s in _statements(template, role_id) for a in _as_list(s["Action"])]
        assert not [a for a in actions if a.startswith("states:")], name


def test_every_state_machine_alarms_on_failed_and_timed_out_executions(fixture_app, workflows):
    stack, _, template = workflows
    alarms_topic = {"Ref": _logical_id(stack, stack.alarms.topic)}
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    for name in fixture_app.project.workflows:
        machine = {"Ref": _logical_id(stack, stack.state_machines[name].state_machine)}
        watching = {
            a["Properties"]["MetricName"]: a["Properties"]
            for a in alarms
            if a["Properties"].get("Namespace") == "AWS/States"
            and a["Properties"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": machine}]
        }
        assert set(watching) == {"ExecutionsFailed", "ExecutionsTimedOut"}, name
        for props in watching.values():
            assert props["Statistic"] == "Sum" and props["Period"] == 300
            assert props["Threshold"] == 1
            assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert props["EvaluationPeriods"] == 1
            assert props["TreatMissingData"] == "notBreaching"
            assert props["AlarmActions"] == [alarms_topic]


def test_every_alarm_notifies_the_encrypted_tls_only_alarms_topic(workflows):
    stack, template, raw = workflows
    topic_id = _logical_id(stack, stack.alarms.topic)
    for logical_id, alarm in resources_of_type(raw, "AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}], logical_id
    key_id = _logical_id(stack, stack.alarms.notifications.key)
    topic = raw["Resources"][topic_id]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert raw["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    (policy,) = [p for p in resources_of_type(raw, "AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [{"Ref": topic_id}]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    template.has_output("AlarmsTopicArn", {"Value": {"Ref": topic_id}})


def test_cloudwatch_may_publish_alarms_to_the_encrypted_topic_for_this_account_only(workflows):
    stack, _, raw = workflows
    topic_id = _logical_id(stack, stack.alarms.topic)
    key_id = _logical_id(stack, stack.alarms.notifications.key)
    (policy,) = [p for p in resources_of_type(raw, "AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [{"Ref": topic_id}]]
    key_policy = raw["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    for statements, actions in ((policy["Properties"]["PolicyDocument"]["Statement"], ["sns:Publish"]),
                                (key_policy, ["kms:Decrypt", "kms:GenerateDataKey*"])):
        (grant,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
        assert sorted(_as_list(grant["Action"])) == actions
        assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert render(grant["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":<AWS::AccountId>:alarm:*")
