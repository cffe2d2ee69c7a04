"""Triggers (SPEC §3): a ``schedule`` starts its workflow from EventBridge Scheduler, a ``webhook``
from an HMAC-checked function URL; each may start its own workflow and nothing else."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from template_reading import as_list, environment, logical_id, render, resources_of_type, role_statements

from stacks.components import DeadLetterQueue, ScheduleTrigger, WebhookTrigger, schedule_expression

# ----------------------------------------------------------------------------- without synthesis


@pytest.mark.parametrize(
    ("kind", "written", "expected"),
    [
        ("cron", "0 8 * * ? *", "cron(0 8 * * ? *)"),
        ("cron", "cron(0 8 * * ? *)", "cron(0 8 * * ? *)"),
        ("rate", "5 minutes", "rate(5 minutes)"),
        ("rate", " rate(1 hour) ", "rate(1 hour)"),
    ],
)
def test_schedule_expression_takes_the_expression_with_or_without_its_wrapper(kind, written, expected):
    assert schedule_expression(kind, written) == expected


def test_schedule_expression_rejects_other_kinds():
    with pytest.raises(ValueError, match="'cron' or a 'rate'"):
        schedule_expression("at", "2030-01-01T00:00:00")


@pytest.fixture()
def scratch():
    stack = cdk.Stack(cdk.App(), "Scratch")
    machine = sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P")))
    function = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler", code=lambda_.Code.from_inline("x=1")
    )
    return stack, machine, function


def test_rate_schedule_without_time_zone_runs_in_utc_at_exact_times(scratch):
    stack, machine, _ = scratch
    ScheduleTrigger(stack, "Every5", state_machine=machine, kind="rate", expression="5 minutes",
                    dead_letters=DeadLetterQueue(stack, "Dlq", purpose="starts"))
    (schedule,) = Template.from_stack(stack).find_resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(5 minutes)"
    assert props.get("ScheduleExpressionTimezone", "Etc/UTC") == "Etc/UTC"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    trigger = json.loads(props["Target"]["Input"])["trigger"]
    assert trigger == {"kind": "schedule", "rate": "rate(5 minutes)", "scheduled_time": "<aws.scheduler.scheduled-time>"}


def test_webhook_with_a_secret_name_reads_that_existing_secret_only(scratch):
    stack, machine, function = scratch
    WebhookTrigger(stack, "Hook", function=function, state_machine=machine, workflow_name="wf", secret_name="shared/hook")
    template = Template.from_stack(stack).to_json()
    assert not resources_of_type(template, "AWS::SecretsManager::Secret")
    env = environment(template, logical_id(stack, function))
    assert render(env["WEBHOOK_SECRET_ARN"]).endswith(":secret:shared/hook")
    statements = role_statements(template, logical_id(stack, function.role))
    (read,) = [s for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert render(read["Resource"]).endswith(":secret:shared/hook-??????")


# ----------------------------------------------------------------------------- schedules


@pytest.mark.slow
def test_daily_report_is_scheduled_at_8_paris_time_with_scheduler_context(repo_app):
    stack = repo_app.stacks.workflows
    template = repo_app.template_json(stack)
    schedules = resources_of_type(template, "AWS::Scheduler::Schedule")
    scheduled = sorted(n for n, w in repo_app.project.workflows.items() if w.trigger.param("kind") == "schedule")
    assert scheduled == ["daily-report"] and len(schedules) == 1 and set(stack.schedules) == {"daily-report"}
    (props,) = [s["Properties"] for s in schedules.values()]
    assert props["ScheduleExpression"] == "cron(0 8 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    assert target["Arn"] == {"Ref": logical_id(stack, stack.state_machines["daily-report"].state_machine)}
    assert json.loads(target["Input"]) == {
        "trigger": {"kind": "schedule", "cron": "cron(0 8 * * ? *)",
                    "scheduled_time": "<aws.scheduler.scheduled-time>", "timezone": "Europe/Paris"}
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert "DeadLetterConfig" in target


@pytest.mark.slow
def test_schedule_role_may_start_only_its_workflow_and_feed_the_dead_letter_queue(repo_app):
    stack = repo_app.stacks.workflows
    template = repo_app.template_json(stack)
    (props,) = [s["Properties"] for s in resources_of_type(template, "AWS::Scheduler::Schedule").values()]
    role_id = props["Target"]["RoleArn"]["Fn::GetAtt"][0]
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    granted = {(a, json.dumps(r)) for s in role_statements(template, role_id) for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert granted == {
        ("states:StartExecution", json.dumps({"Ref": logical_id(stack, stack.state_machines["daily-report"].state_machine)})),
        ("sqs:SendMessage", json.dumps(props["Target"]["DeadLetterConfig"]["Arn"])),
    }


# ----------------------------------------------------------------------------- webhooks


@pytest.fixture(scope="module")
def webhook(fixture_app):
    stack = fixture_app.stacks.workflows
    return stack, fixture_app.template_json(stack), stack.webhooks["webhook-flow"]


@pytest.mark.slow
def test_only_webhook_workflows_get_a_public_function_url_authenticated_by_hmac(fixture_app, webhook):
    stack, template, hook = webhook
    hooked = sorted(n for n, w in fixture_app.project.workflows.items() if w.trigger.param("kind") == "webhook")
    assert hooked == ["webhook-flow"] == sorted(stack.webhooks)
    (url,) = resources_of_type(template, "AWS::Lambda::Url").values()
    assert url["Properties"]["AuthType"] == "NONE"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [logical_id(stack, hook.function), "Arn"]}
    env = environment(template, logical_id(stack, hook.function))
    assert env["POWERTOOLS_SERVICE_NAME"] == "webhook"
    assert env["STATE_MACHINE_ARN"] == {"Ref": logical_id(stack, stack.state_machines["webhook-flow"].state_machine)}


@pytest.mark.slow
def test_webhook_secret_is_generated_by_the_stack_and_only_its_arn_reaches_the_function(webhook):
    stack, template, hook = webhook
    secret_id = logical_id(stack, hook.secret)
    secret = template["Resources"][secret_id]["Properties"]
    assert "SecretString" not in secret
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
    env = environment(template, logical_id(stack, hook.function))
    assert env["WEBHOOK_SECRET_ARN"] == {"Ref": secret_id}
    assert set(env) == {"POWERTOOLS_SERVICE_NAME", "WEBHOOK_SECRET_ARN", "STATE_MACHINE_ARN", "REPLAY_TABLE_NAME"}


@pytest.mark.slow
def test_webhook_function_may_read_its_secret_and_start_its_workflow_only(webhook):
    stack, template, hook = webhook
    granted = {
        (a, json.dumps(r))
        for s in role_statements(template, logical_id(stack, hook.function.role))
        for a in as_list(s["Action"])
        for r in as_list(s["Resource"])
        if not a.startswith(("logs:", "xray:"))
    }
    secret = json.dumps({"Ref": logical_id(stack, hook.secret)})
    table = json.dumps({"Fn::GetAtt": [logical_id(stack, hook.replays), "Arn"]})
    assert granted == {
        ("secretsmanager:GetSecretValue", secret),
        ("secretsmanager:DescribeSecret", secret),
        *{(f"dynamodb:{a}", table) for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")},
        ("states:StartExecution", json.dumps({"Ref": logical_id(stack, stack.state_machines["webhook-flow"].state_machine)})),
    }


@pytest.mark.slow
def test_webhook_replay_cache_table_is_encrypted_recoverable_and_expires_records(webhook):
    stack, template, hook = webhook
    table = template["Resources"][logical_id(stack, hook.replays)]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["Replicas"][0]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    env = environment(template, logical_id(stack, hook.function))
    assert env["REPLAY_TABLE_NAME"] == {"Ref": logical_id(stack, hook.replays)}


@pytest.mark.slow
def test_webhook_outputs_its_url_and_secret_arn(webhook):
    stack, template, hook = webhook
    outputs = template["Outputs"]
    url_id = logical_id(stack, hook.url)
    assert outputs["WebhookUrlWebhookFlow"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert outputs["WebhookSecretArnWebhookFlow"]["Value"] == {"Ref": logical_id(stack, hook.secret)}
