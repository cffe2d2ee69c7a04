"""The synthesized ``subflow`` path: a parent state machine may start exactly its child workflows."""

from __future__ import annotations

import pytest

from template_reading import as_list, logical_id, render, role_statements

pytestmark = pytest.mark.slow


def _role_of(template: dict, machine_logical_id: str) -> str:
    return template["Resources"][machine_logical_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]


def test_subflow_parent_may_start_only_its_child_state_machine(repo_app) -> None:
    stack = repo_app.stacks.workflows
    template = repo_app.template_json(stack)
    parent = stack.state_machines["weekly-account-review"]
    child = stack.state_machines["order-digest"]
    statements = role_statements(template, _role_of(template, logical_id(stack, parent.state_machine)))
    starts = [s for s in statements if "states:StartExecution" in as_list(s["Action"])]
    assert [render(r) for s in starts for r in as_list(s["Resource"])] == [f"<{logical_id(stack, child.state_machine)}>"]
    manage = [s for s in statements if "states:DescribeExecution" in as_list(s["Action"])]
    resources = [render(r) for s in manage for r in as_list(s["Resource"])]
    assert resources and all(":execution:" in r and r.endswith(":*") for r in resources)
    states_statements = [s for s in statements if any(a.startswith("states:") for a in as_list(s["Action"]))]
    assert states_statements and all("*" != r for s in states_statements for r in as_list(s["Resource"]))
    # the child ARN reaches the parent's definition through its substitution, not a literal
    substitutions = template["Resources"][logical_id(stack, parent.state_machine)]["Properties"]["DefinitionSubstitutions"]
    assert render(substitutions["StateMachineArn_order_2Ddigest"]) == f"<{logical_id(stack, child.state_machine)}>"


def test_workflow_without_subflow_gets_no_start_execution(repo_app) -> None:
    stack = repo_app.stacks.workflows
    template = repo_app.template_json(stack)
    machine = stack.state_machines["customer-support"]
    statements = role_statements(template, _role_of(template, logical_id(stack, machine.state_machine)))
    assert not any("states:StartExecution" in as_list(s["Action"]) for s in statements)
