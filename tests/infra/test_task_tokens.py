"""Task tokens (SPEC §14): who may read an approval's token, and who may send its result.

A human approval's task token lets whoever holds it decide the step (``SendTaskSuccess`` /
``SendTaskFailure``). It lives in the approvals table, in the execution history
(``TaskScheduled``) and in the state machines' log groups (``Level: ALL`` with execution data).
These tests hold the mitigations: the log groups are encrypted with a customer managed key only
CloudWatch Logs may use (for those groups only), ``GetExecutionHistory`` is granted to the
result-record backstop alone on this app's executions, and no principal of the app but the
approvals function can both read the table and send a task result.
"""

from __future__ import annotations

import fnmatch
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from template_reading import as_list, logical_id, render, resources_of_type

from stepgraph.substitutions import APPROVAL_FUNCTION

READ_TOKEN = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:PartiQLSelect")
SEND_RESULT = ("states:SendTaskSuccess", "states:SendTaskFailure")


def _allows(statement: dict, action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in as_list(statement.get("Action", [])))


def _policies_by_role(template: dict) -> dict[str, list[dict]]:
    """Every allowing statement of every role of a template (inline, attached and managed policies)."""
    statements: dict[str, list[dict]] = {}
    for role_id, role in resources_of_type(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            statements.setdefault(role_id, []).extend(as_list(policy["PolicyDocument"]["Statement"]))
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in resources_of_type(template, kind).values():
            for role in policy["Properties"].get("Roles", []):
                if isinstance(role, dict) and "Ref" in role:
                    statements.setdefault(role["Ref"], []).extend(as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
    return statements


def token_readers_and_senders(template: dict, table_logical_id: str) -> set[str]:
    """Roles of ``template`` that may read the table ``table_logical_id`` *and* send a task result."""
    both = set()
    for role_id, statements in _policies_by_role(template).items():
        reads = any(
            _allows(s, action) and any(r == "*" or table_logical_id in render(r) for r in as_list(s.get("Resource", [])))
            for s in statements for action in READ_TOKEN
        )
        sends = any(_allows(s, action) for s in statements for action in SEND_RESULT)
        if reads and sends:
            both.add(role_id)
    return both


@pytest.fixture(scope="module")
def workflows(repo_app):
    stack = repo_app.stacks.workflows
    return stack, repo_app.template_json(stack)


@pytest.mark.slow
def test_no_principal_but_the_approvals_function_can_read_a_task_token_and_send_its_result(repo_app, workflows):
    stack, _ = workflows
    assert stack.approvals_table is not None, "the repository app has a human_approval step"
    table_id = logical_id(stack, stack.approvals_table)
    approval_role = logical_id(stack, stack.handlers[APPROVAL_FUNCTION].role)
    # deployed with the HTTP API, deciding is the approvals decider's: the approvals function's
    # other half (stacks/components/http_api.py), which only the API function may invoke
    api = repo_app.stacks.api
    decider_role = logical_id(api, api.http.decider.role) if api is not None and api.http.decider else None
    for path in repo_app.template_paths():
        template = json.loads(path.read_text(encoding="utf-8"))
        found = token_readers_and_senders(template, table_id)
        assert found <= {approval_role, decider_role}, path.name
        assert len(found) <= 1, f"{path.name}: more than one principal reads tokens and sends results: {found}"


def test_token_check_finds_a_role_that_reads_the_table_and_sends_task_results():
    # GIVEN a role granted both (what the check above must catch)
    stack = cdk.Stack(cdk.App(), "Scratch")
    table = dynamodb.TableV2(stack, "ApprovalsTable", partition_key=dynamodb.Attribute(name="approval_id", type=dynamodb.AttributeType.STRING))
    role = iam.Role(stack, "Intruder", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    table.grant_read_data(role)
    role.add_to_policy(iam.PolicyStatement(actions=["states:SendTask*"], resources=["*"]))
    template = cdk.assertions.Template.from_stack(stack).to_json()
    assert token_readers_and_senders(template, logical_id(stack, table)) == {logical_id(stack, role)}


@pytest.mark.slow
def test_state_machine_log_groups_are_encrypted_with_a_key_only_cloudwatch_logs_may_use_for_them(repo_app, workflows):
    stack, template = workflows
    (key_id,) = {logical_id(stack, m.logs_key) for m in stack.state_machines.values()}  # one key per stack
    key = template["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    by_service = [s for s in statements if "Service" in s.get("Principal", {})]
    others = [s for s in statements if s not in by_service]
    # the account (key administration through IAM) and the CloudWatch Logs service, nothing else
    assert all(render(s["Principal"]["AWS"]).endswith(":root") for s in others)
    assert {render(s["Principal"]["Service"]) for s in by_service} == {"logs.<AWS::Region>.amazonaws.com"}
    contexts = {render(s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) for s in by_service}
    assert len(by_service) == len(stack.state_machines) == len(contexts)
    for machine in stack.state_machines.values():
        group = template["Resources"][logical_id(stack, machine.log_group)]["Properties"]
        assert group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        name = render(group["LogGroupName"])
        assert f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{name}" in contexts


@pytest.mark.slow
def test_get_execution_history_is_granted_only_to_the_backstop_on_this_apps_executions(repo_app, workflows):
    stack, _ = workflows
    backstop_role = logical_id(stack, stack.backstop.function.role)
    api = repo_app.stacks.api
    api_role = logical_id(api, api.http.function.role) if api is not None else None
    machine_names = sorted(m.state_machine.node.default_child.state_machine_name for m in stack.state_machines.values())
    for path in repo_app.template_paths():
        template = json.loads(path.read_text(encoding="utf-8"))
        for role_id, statements in _policies_by_role(template).items():
            granted = [s for s in statements if _allows(s, "states:GetExecutionHistory")]
            if api_role is not None and role_id == api_role and path.name == f"{api.stack_name}.template.json":
                # SPEC §9: executions come from Step Functions' own history; the API reads it but
                # may not send a task result (only the decider, which it invokes, can)
                assert not any(_allows(s, "states:SendTaskSuccess") or _allows(s, "states:SendTaskFailure")
                               for s in statements), "the API function must not send task results itself"
                continue
            if role_id != backstop_role or path.name != f"{stack.stack_name}.template.json":
                assert granted == [], f"{path.name}: {role_id} may read execution histories (and task tokens)"
                continue
            resources = sorted(render(r) for s in granted for r in as_list(s["Resource"]))
            assert resources == [f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{n}:*" for n in machine_names]


@pytest.mark.slow
def test_async_agents_may_send_task_results_only_to_their_state_machines_and_cannot_read_approval_tokens(repo_app, workflows):
    """An async agent's runtime role may call SendTaskSuccess/Failure/Heartbeat (issue 14), yet cannot decide an
    approval: sending needs the approval's token, which lives only in the approvals table, and no statement of
    that role (in any template) reads the table or the execution histories."""
    stack, template = workflows
    async_callers = {d.agent_id: sorted(n for n, c in repo_app.compiled.items()
                                        if any(getattr(x, "agent_id", None) == d.agent_id for x in c.deployments))
                     for c in repo_app.compiled.values() for d in c.deployments if hasattr(d, "agent_id")}
    assert async_callers, "the repository has async agent steps (workflows/order-research.json, price-compare.json)"
    assert set(stack.task_result_policies) == set(async_callers)
    for agent_id, policy in stack.task_result_policies.items():
        document = template["Resources"][logical_id(stack, policy)]["Properties"]
        statement, offload = as_list(document["PolicyDocument"]["Statement"])
        assert sorted(as_list(statement["Action"])) == ["states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"]
        machines = sorted(render(r) for r in as_list(statement["Resource"]))
        assert machines == sorted(render({"Ref": logical_id(stack, stack.state_machines[n].state_machine)})
                                  for n in async_callers[agent_id])
        # a result too large for SendTaskSuccess may be put under its callers' payload prefixes only
        assert as_list(offload["Action"]) == ["s3:PutObject"]
        prefixes = sorted(render(r).split("/", 1)[1] for r in as_list(offload["Resource"]))
        assert prefixes == [f"payloads/{n}/*" for n in async_callers[agent_id]]
    agents_stack = repo_app.stacks.agents
    agents_template = repo_app.template_json(agents_stack)
    table_id = logical_id(stack, stack.approvals_table)
    for agent_id in async_callers:
        role_id = logical_id(agents_stack, agents_stack.agents[agent_id].runtime.role)
        statements = _policies_by_role(agents_template).get(role_id, [])
        for action in READ_TOKEN + ("states:GetExecutionHistory",):
            assert not any(_allows(s, action) for s in statements), f"{agent_id}'s role may {action}"
        assert not any(table_id in render(r) for s in statements for r in as_list(s.get("Resource", [])))
    # and the workflows stack grants runtime roles nothing but the callback policies
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if any("Fn::ImportValue" in json.dumps(r) for r in policy["Properties"].get("Roles", [])):
            for s in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
                assert all(a.startswith("states:SendTask") or a == "s3:PutObject" for a in as_list(s["Action"]))
    # every runtime is told where those results go
    for agent in agents_stack.agents.values():
        runtime = agents_template["Resources"][logical_id(agents_stack, agent.runtime)]["Properties"]
        assert "PAYLOADS_BUCKET" in runtime["EnvironmentVariables"]
