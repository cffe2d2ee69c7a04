"""The human-approval resources of the repository app (refund-approval has a human_approval step)."""

from __future__ import annotations

import pytest

from stepgraph.substitutions import APPROVAL_FUNCTION
from template_reading import as_list, logical_id, render, resources_of_type, role_statements


@pytest.fixture(scope="module")
def approvals(repo_app):
    stack = repo_app.stacks.workflows
    return stack, repo_app.template_json(stack)


def test_approvals_table_is_kms_encrypted_with_point_in_time_recovery(approvals):
    _, template = approvals
    (table,) = resources_of_type(template, "AWS::DynamoDB::GlobalTable").values()
    properties = table["Properties"]
    assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    (replica,) = properties["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert properties["KeySchema"] == [{"AttributeName": "approval_id", "KeyType": "HASH"}]


def test_approval_function_may_only_put_requests_and_notify_approvers(approvals):
    stack, template = approvals
    table_id = next(iter(resources_of_type(template, "AWS::DynamoDB::GlobalTable")))
    role_id = logical_id(stack, stack.handlers[APPROVAL_FUNCTION].role)
    statements = role_statements(template, role_id)
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert [as_list(s["Action"]) for s in dynamo] == [["dynamodb:PutItem"]]
    assert all(table_id in render(s["Resource"]) for s in dynamo)
    assert not any(a in ("dynamodb:*", "dynamodb:GetItem", "dynamodb:UpdateItem") for s in statements for a in as_list(s["Action"]))
    publish = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
    assert publish and all("ApprovalsTopic" in render(s["Resource"]) for s in publish)


def test_refund_state_machine_may_invoke_the_approval_function(repo_app, approvals):
    stack, template = approvals
    machine = stack.state_machines["refund-approval"]
    role_id = logical_id(stack, machine.state_machine.role)
    statements = role_statements(template, role_id)
    invoke = [s for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])]
    targets = " ".join(render(s["Resource"]) for s in invoke)
    assert "Approval" in targets
    assert "*" not in [r for s in invoke for r in as_list(s["Resource"])]
