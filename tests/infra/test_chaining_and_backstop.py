"""Chaining (SPEC §5) and the result-record backstop: what starts downstream workflows, and what
writes the record of an execution that ended without one; nothing undeliverable is dropped."""

from __future__ import annotations

import json

import pytest
from template_reading import as_list, environment, logical_id, render, resources_of_type, role_statements

from stepgraph.chaining import chain_routes, filter_policy

pytestmark = pytest.mark.slow

_DAYS_14 = 14 * 24 * 3600


@pytest.fixture(scope="module")
def workflows(fixture_app):
    stack = fixture_app.stacks.workflows
    return stack, fixture_app.template(stack), fixture_app.template_json(stack)


def _machine_ref(stack, name: str) -> dict:
    return {"Ref": logical_id(stack, stack.state_machines[name].state_machine)}


def _queue_checks(template: dict, queue_id: str) -> list[dict]:
    queue = template["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == _DAYS_14
    (policy,) = [p for p in resources_of_type(template, "AWS::SQS::QueuePolicy").values() if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    return statements


def _depth_alarm(template: dict, queue_id: str) -> dict:
    (alarm,) = [
        a["Properties"]
        for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/SQS"
        and a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    return alarm


# ----------------------------------------------------------------------------- chaining


def test_chain_function_routes_each_upstream_to_its_downstream_state_machine(fixture_app, workflows):
    stack, _, template = workflows
    function_id = logical_id(stack, stack.chain.function)
    routes = json.loads(render(environment(template, function_id)["CHAIN_ROUTES"]))
    downstream = render(_machine_ref(stack, "no-agent"))
    assert routes == {
        "echo-flow": [{"workflow": "no-agent", "when": "completed", "state_machine_arn": downstream}],
        "webhook-flow": [{"workflow": "no-agent", "when": "any", "state_machine_arn": downstream}],
    }
    expected = chain_routes(fixture_app.project.workflows)
    assert {u: [{k: t[k] for k in ("workflow", "when")} for t in ts] for u, ts in routes.items()} == expected


def test_chain_function_may_start_only_the_downstream_state_machines(workflows):
    stack, _, template = workflows
    statements = role_statements(template, logical_id(stack, stack.chain.function.role))
    states = [s for s in statements if any(a.startswith("states:") for a in as_list(s["Action"]))]
    assert len(states) == 1
    assert as_list(states[0]["Action"]) == ["states:StartExecution"]
    assert as_list(states[0]["Resource"]) == [_machine_ref(stack, "no-agent")]


def test_results_topic_has_one_filtered_subscription_per_upstream(fixture_app, workflows):
    stack, _, template = workflows
    function_arn = {"Fn::GetAtt": [logical_id(stack, stack.chain.function), "Arn"]}
    dlq_arn = {"Fn::GetAtt": [logical_id(stack, stack.chain.dead_letters.queue), "Arn"]}
    subscriptions = list(resources_of_type(template, "AWS::SNS::Subscription").values())
    routes = chain_routes(fixture_app.project.workflows)
    assert len(subscriptions) == len(routes) == 2
    policies = []
    for subscription in subscriptions:
        props = subscription["Properties"]
        assert props["Protocol"] == "lambda" and props["Endpoint"] == function_arn
        assert "ResultsTopic" in json.dumps(props["TopicArn"])
        assert props.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"
        assert props["RedrivePolicy"] == {"deadLetterTargetArn": dlq_arn}
        policies.append(props["FilterPolicy"])
    assert sorted(policies, key=json.dumps) == sorted(
        (filter_policy(upstream, targets) for upstream, targets in routes.items()), key=json.dumps
    )
    assert {"workflowName": ["webhook-flow"], "status": ["completed", "failed"]} in policies


def test_results_topic_may_invoke_the_chain_function(workflows):
    stack, _, template = workflows
    function_arn = {"Fn::GetAtt": [logical_id(stack, stack.chain.function), "Arn"]}
    (permission,) = [
        p["Properties"] for p in resources_of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == function_arn
    ]
    assert permission["Principal"] == "sns.amazonaws.com"
    assert "ResultsTopic" in json.dumps(permission["SourceArn"])


def test_chain_dead_letter_queue_is_encrypted_tls_only_kept_14_days_and_fed_by_sns(workflows):
    stack, _, template = workflows
    queue_id = logical_id(stack, stack.chain.dead_letters.queue)
    statements = _queue_checks(template, queue_id)
    (sns_allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert sns_allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert sns_allow["Action"] == "sqs:SendMessage"
    assert "ResultsTopic" in json.dumps(sns_allow["Condition"]["ArnEquals"]["aws:SourceArn"])


def test_chain_dead_letter_queue_depth_raises_an_alarm(workflows):
    stack, _, template = workflows
    alarm = _depth_alarm(template, logical_id(stack, stack.chain.dead_letters.queue))
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": logical_id(stack, stack.alarms.topic)}]


def test_failed_chain_invocations_land_in_the_dead_letter_queue(workflows):
    stack, _, template = workflows
    (config,) = [
        c["Properties"] for c in resources_of_type(template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": logical_id(stack, stack.chain.function)}
    ]
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [logical_id(stack, stack.chain.dead_letters.queue), "Arn"]
    }


def test_repository_chain_subscribes_once_for_completed_customer_support(repo_app):
    assert chain_routes(repo_app.project.workflows) == {
        "customer-support": [{"workflow": "support-followup", "when": "completed"}]
    }
    stack = repo_app.stacks.workflows
    assert stack.chain is not None
    template = repo_app.template_json(stack)
    (subscription,) = resources_of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "lambda"
    assert subscription["Properties"]["FilterPolicy"] == {"workflowName": ["customer-support"], "status": ["completed"]}
    services = {f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
                for f in resources_of_type(template, "AWS::Lambda::Function").values()}
    assert {"chain", "record_backstop"} <= services


# ----------------------------------------------------------------------------- backstop


def test_backstop_rule_hears_failed_timed_out_and_stopped_executions_of_our_state_machines(fixture_app, workflows):
    stack, _, template = workflows
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    # issue 14: a workflow of the fixture uses an agent, so SUCCEEDED is heard too (its sessions are stopped)
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"]
    machines = [_machine_ref(stack, name) for name in fixture_app.project.workflows]
    assert sorted(pattern["detail"]["stateMachineArn"], key=json.dumps) == sorted(machines, key=json.dumps)


def test_backstop_rule_target_retries_then_keeps_the_event(workflows):
    stack, _, template = workflows
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id(stack, stack.backstop.function), "Arn"]}
    queue_id = logical_id(stack, stack.backstop.dead_letters.queue)
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600
    statements = _queue_checks(template, queue_id)
    (events_allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert events_allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert _depth_alarm(template, queue_id)["AlarmActions"] == [{"Ref": logical_id(stack, stack.alarms.topic)}]


def test_backstop_function_knows_the_bucket_topic_and_state_machine_prefix(fixture_app, workflows):
    stack, _, template = workflows
    env = environment(template, logical_id(stack, stack.backstop.function))
    assert env["STATE_MACHINE_NAME_PREFIX"] == f"{fixture_app.settings.stack_prefix}-"
    assert "ResultsBucket" in json.dumps(env["RESULTS_BUCKET_NAME"])
    assert "ResultsTopic" in json.dumps(env["RESULTS_TOPIC_ARN"])


def test_backstop_function_is_granted_exactly_what_it_does(fixture_app, workflows):
    stack, _, template = workflows
    statements = role_statements(template, logical_id(stack, stack.backstop.function.role))
    granted: dict[str, list[str]] = {}
    for s in statements:
        for action in as_list(s["Action"]):
            granted.setdefault(action, []).extend(render(r) for r in as_list(s["Resource"]))
    (objects,) = set(granted["s3:GetObject"]) | set(granted["s3:PutObject"])
    assert objects.endswith("/results/*")
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    # Without ListBucket, HeadObject on a missing record answers 403, not 404.
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["results/*"]}}
    assert "*" not in render(listing["Resource"])
    assert granted["sns:Publish"] and "ResultsTopic" in granted["sns:Publish"][0]
    prefix = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
    assert sorted(granted["states:GetExecutionHistory"]) == sorted(
        f"{prefix}{fixture_app.settings.stack_prefix}-{name}:*" for name in fixture_app.project.workflows
    )
    for action, resources in granted.items():
        if "*" in resources:
            assert action.startswith("xray:"), action


def test_backstop_may_stop_sessions_only_on_the_runtimes_the_workflows_use(fixture_app, workflows):
    stack, _, template = workflows
    statements = role_statements(template, logical_id(stack, stack.backstop.function.role))
    (stop,) = [s for s in statements if "bedrock-agentcore:StopRuntimeSession" in as_list(s["Action"])]
    assert as_list(stop["Action"]) == ["bedrock-agentcore:StopRuntimeSession"]
    used = sorted({a for c in fixture_app.compiled.values() for a in c.agent_ids})
    resources = [render(r) for r in as_list(stop["Resource"])]
    assert len(resources) == 2 * len(used) and all("AgentRuntimeArn" in r for r in resources)
    env = environment(template, logical_id(stack, stack.backstop.function))
    assert "STEPGRAPH_SESSION_RUNTIMES" in env
