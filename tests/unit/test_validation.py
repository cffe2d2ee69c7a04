"""Unit tests for workflow validation (SPEC §3, §4, §7): every rule, every problem at once.

Each case builds a minimal document, validates it the way ``load_workflow`` does (shape checks of
``parse_workflow``, then ``validate_workflow``) and compares the WHOLE list of problems, located
by ``(step_id, path)``: a rule that stops firing, or a spurious extra problem, fails the test.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Collection

import pytest

from stepgraph import ErrorCode, ValidationIssue, WorkflowValidationError, load_workflow, parse_workflow, validate_workflow
from stepgraph.validation import validate_schedule_expression

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


def load_fixture(kind: str, name: str) -> dict[str, Any]:
    """Read ``tests/workflows/<kind>/<name>`` (JSON) as a document."""
    return json.loads((WORKFLOWS / kind / name).read_text(encoding="utf-8"))


def issues_of(document: Any, *, agents: Collection[str] | None = None, tools: Collection[str] | None = None) -> list[ValidationIssue]:
    """Every problem of a document, as ``load_workflow`` collects them."""
    parsed = parse_workflow(document)
    issues = list(parsed.issues)
    if parsed.workflow is not None:
        issues += validate_workflow(parsed.workflow, agents=agents, tools=tools, unreadable_step_ids=parsed.unreadable_step_ids)
    return issues


def located(issues: list[ValidationIssue]) -> list[tuple[str | None, str]]:
    """``(step_id, path)`` of each problem, sorted, for whole-list comparisons."""
    return sorted(((i.step_id, i.path) for i in issues), key=lambda p: (p[0] or "", p[1]))


def step(step_id: str, step_type: str, *next_steps: str, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"step_id": step_id, "step_type": step_type}
    if next_steps:
        document["next_steps"] = list(next_steps)
    document.update(fields)
    return document


def transform(step_id: str, *next_steps: str, output: Any = 1) -> dict[str, Any]:
    return step(step_id, "data_transform", *next_steps, parameters={"output": output})


def workflow(*steps: dict[str, Any], trigger: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A document whose trigger leads to the first of ``steps``."""
    first = [steps[0]["step_id"]] if steps else []
    head = trigger if trigger is not None else step("trigger", "trigger", *first)
    return {"name": "wf", "steps": [head, *steps], **top}


# ----------------------------------------------------------------------------- valid documents


@pytest.mark.parametrize(
    "document",
    [
        workflow(),
        workflow(transform("a")),
        workflow(step("wait", "delay", parameters={"seconds": 0})),
        workflow(step("wait", "delay", parameters={"seconds": "{{input.pause}}"})),
        workflow(step("wait", "delay", parameters={"until": "{{input.when}}"})),
        workflow(step("wait", "delay", parameters={"until": "2030-01-01T00:00:00Z"})),
        workflow(step("check", "condition", "yes", else_steps=["no"], parameters={"condition": "{{input.a}} > 1"}),
                 transform("yes"), transform("no")),
        workflow(step("check", "condition", "yes", parameters={"condition": "input.a"}), transform("yes")),
        workflow(step("check", "condition", "yes", else_steps=["after"], parameters={"condition": "true"}),
                 transform("yes", "after"), transform("after")),
        workflow(step("each", "loop", "after", parameters={"items": "{{input.orders}}", "body": "price"}),
                 transform("price", "tax", output="{{item.price}}"), transform("tax", output="{{index}}"), transform("after")),
        workflow(step("each", "loop", parameters={"items": "{{ input.orders }}", "body": "inner", "mode": "distributed",
                                                   "max_concurrency": 0, "tolerated_failure_percentage": 5}),
                 step("inner", "loop", parameters={"items": "{{item.lines}}", "body": "line"}),
                 transform("line", output={"line": "{{item}}", "at": "{{index}}"})),
        workflow(step("fan", "parallel", "left", "right", parameters={"join": "merge"}),
                 transform("left", "merge"), transform("right"), transform("merge", output="{{steps.fan.output}}")),
        workflow(step("fan", "parallel", "left", "right"), transform("left", "left-2"), transform("left-2"), transform("right")),
        workflow(step("ok", "human_approval", "yes", else_steps=["no"], parameters={"approvers": ["a@example.com"]}),
                 transform("yes"), transform("no")),
        workflow(step("call", "api_call", parameters={"url": "{{input.url}}", "method": "delete"})),
        workflow(transform("2nd-pass", "-x"), transform("-x", output="{{steps.2nd-pass.output}} {{steps.-x.output}}")),
        workflow(trigger=step("cron", "trigger", parameters={"kind": "schedule", "cron": "cron(0 12 * * ? *)"})),
        workflow(trigger=step("rate", "trigger", parameters={"kind": "schedule", "rate": "rate(1 hour)", "input": {"a": 1}})),
        workflow(trigger=step("hook", "trigger", parameters={"kind": "webhook", "secret_name": "hook-secret"})),
    ],
)
def test_validate_accepts_a_valid_document(document: dict[str, Any]) -> None:
    assert issues_of(document) == []


@pytest.mark.parametrize("name", sorted(p.name for p in (WORKFLOWS / "valid").iterdir() if p.suffix in (".json", ".yaml") and not p.name.endswith(".asl.json")))
def test_load_workflow_accepts_every_valid_fixture(name: str) -> None:
    workflow_ = load_workflow(WORKFLOWS / "valid" / name, agents=["support_agent"], tools=["lookup"])
    assert workflow_.steps[0].step_type.value == "trigger"


# ----------------------------------------------------------------------------- every problem at once


def test_validate_returns_every_problem_of_a_broken_document() -> None:
    # GIVEN a document with many independent mistakes
    document = load_fixture("invalid", "many-problems.json")
    # WHEN it is loaded
    with pytest.raises(WorkflowValidationError) as caught:
        load_workflow(WORKFLOWS / "invalid" / "many-problems.json")
    # THEN every problem is reported at once, each with its step id and path
    expected = [
        ("classify", "steps[1].parameters.agent_id"),  # missing agent_id
        ("classify", "steps[1].retry.max_attempts"),  # max_attempts 0
        ("each", "steps[5]"),  # unreachable
        ("each", "steps[5].parameters.body"),  # missing body
        ("escalate", "steps[3].step_type"),  # unknown step type
        ("route", "steps[2].else_steps"),  # unknown id
        ("route", "steps[2].parameters.condition"),  # dangling operator
        ("shape", "steps[4]"),  # unreachable
        ("shape", "steps[4].parameters.output"),  # item outside a loop, inside a template object
        ("wait", "steps[6]"),  # unreachable
        ("wait", "steps[6]"),  # neither seconds nor until
    ]
    assert located(list(caught.value.issues)) == expected
    assert located(issues_of(document)) == expected
    assert all(issue.code == ErrorCode.VALIDATION_ERROR.value for issue in caught.value.issues)
    assert caught.value.code == "VALIDATION_ERROR"
    assert f"invalid workflow for {len(expected)} reason(s)" in str(caught.value)
    assert "step 'escalate' (steps[3].step_type): unknown step_type 'send_email'" in str(caught.value)


def test_validation_issue_serializes_with_code_step_path_and_message() -> None:
    issue = ValidationIssue("a sentence", "s-1", "steps[1].next_steps")
    assert issue.to_dict() == {"code": "VALIDATION_ERROR", "step": "s-1", "path": "steps[1].next_steps", "message": "a sentence"}
    assert str(issue) == "step 's-1' (steps[1].next_steps): a sentence"
    assert str(ValidationIssue("no steps", None, "steps")) == "workflow (steps): no steps"


# ----------------------------------------------------------------------------- document shape

SHAPE_CASES = {
    "name with a space": ({"name": "my flow", "steps": [step("t", "trigger")]}, [(None, "name")]),
    "name too long": ({"name": "n" * 65, "steps": [step("t", "trigger")]}, [(None, "name")]),
    "name with a trailing newline": ({"name": "wf\n", "steps": [step("t", "trigger")]}, [(None, "name")]),
    "name missing": ({"steps": [step("t", "trigger")]}, [(None, "name")]),
    "steps missing": ({"name": "wf"}, [(None, "steps"), (None, "steps")]),
    "steps empty": ({"name": "wf", "steps": []}, [(None, "steps"), (None, "steps")]),
    "steps not a list": ({"name": "wf", "steps": {"t": {}}}, [(None, "steps"), (None, "steps")]),
    "unknown top-level key": ({"name": "wf", "steps": [step("t", "trigger")], "stepz": []}, [(None, "")]),
    "description not text": ({"name": "wf", "description": 5, "steps": [step("t", "trigger")]}, [(None, "description")]),
    "on_complete not a list": ({"name": "wf", "steps": [step("t", "trigger")], "on_complete": "next"}, [(None, "on_complete")]),
    "on_complete bad when": ({"name": "wf", "steps": [step("t", "trigger")], "on_complete": [{"workflow": "x", "when": "sometimes"}]},
                             [(None, "on_complete[0]")]),
    "step not an object": (workflow(trigger=step("t", "trigger", "x")) | {"steps": [step("t", "trigger"), "x"]}, [(None, "steps[1]")]),
    "step_id with a dot": (workflow(transform("a.b")) , [(None, "steps[1].step_id"), ("trigger", "steps[0].next_steps")]),
    "step_id with a trailing newline": ({"name": "wf", "steps": [step("t\n", "trigger")]}, [(None, "steps"), (None, "steps[0].step_id")]),
    "step_id too long": ({"name": "wf", "steps": [step("t" * 65, "trigger")]}, [(None, "steps"), (None, "steps[0].step_id")]),
    "unknown step key": (workflow(transform("a") | {"nexts": ["b"]}), [("a", "steps[1]")]),
    "unknown step type": (workflow(step("a", "send_email", parameters={"to": "x"})), [("a", "steps[1].step_type")]),
    "step type not text": (workflow(step("a", ["data_transform"])), [("a", "steps[1].step_type")]),
    "parameters not an object": (workflow(step("a", "delay", parameters=[5])),
                                 [("a", "steps[1]"), ("a", "steps[1].parameters")]),
    "next_steps not a list": (workflow(transform("a") | {"next_steps": "b"}, transform("b")),
                              [("a", "steps[1].next_steps"), ("b", "steps[2]")]),
    "next_steps not ids": (workflow(transform("a") | {"next_steps": [1]}), [("a", "steps[1].next_steps")]),
    "retry not an object": (workflow(step("a", "tool_call", parameters={"tool": "t"}, retry=3)), [("a", "steps[1].retry")]),
    "retry unknown key": (workflow(step("a", "tool_call", parameters={"tool": "t"}, retry={"attempts": 3})), [("a", "steps[1].retry")]),
    "retry max_attempts 0": (workflow(step("a", "tool_call", parameters={"tool": "t"}, retry={"max_attempts": 0})),
                             [("a", "steps[1].retry.max_attempts")]),
    "retry max_attempts true": (workflow(step("a", "tool_call", parameters={"tool": "t"}, retry={"max_attempts": True})),
                                [("a", "steps[1].retry.max_attempts")]),
    "retry negative backoff": (workflow(step("a", "tool_call", parameters={"tool": "t"}, retry={"max_attempts": 2, "backoff_seconds": -1})),
                               [("a", "steps[1].retry.backoff_seconds")]),
    "retry backoff_rate below 1": (workflow(step("a", "tool_call", parameters={"tool": "t"}, retry={"max_attempts": 2, "backoff_rate": 0.5})),
                                   [("a", "steps[1].retry.backoff_rate")]),
    "timeout 0": (workflow(step("a", "tool_call", parameters={"tool": "t"}, timeout_seconds=0)), [("a", "steps[1].timeout_seconds")]),
    "timeout not whole": (workflow(step("a", "tool_call", parameters={"tool": "t"}, timeout_seconds=1.5)), [("a", "steps[1].timeout_seconds")]),
    "parameter key not text": (workflow(step("a", "data_transform", parameters={"output": {1: "x"}})), [("a", "steps[1].parameters.output")]),
    "parameter infinite": (workflow(step("a", "data_transform", parameters={"output": [float("inf")]})), [("a", "steps[1].parameters.output[0]")]),
    "parameter not json": (workflow(step("a", "data_transform", parameters={"output": {"when": object()}})),
                           [("a", "steps[1].parameters.output.when")]),
}


@pytest.mark.parametrize(("document", "expected"), SHAPE_CASES.values(), ids=SHAPE_CASES.keys())
def test_validate_reports_a_malformed_document_shape(document: dict[str, Any], expected: list[tuple[str | None, str]]) -> None:
    assert located(issues_of(document)) == expected


def test_validate_reports_parameters_nested_too_deeply() -> None:
    # GIVEN parameters nested far deeper than any template (and than Python's recursion limit)
    deep: Any = "leaf"
    for _ in range(5000):
        deep = {"a": deep}
    # WHEN validated THEN one problem is reported for the step, not a RecursionError
    issues = issues_of(workflow(step("a", "data_transform", parameters={"output": deep})))
    assert [(i.step_id, i.path.startswith("steps[1].parameters.output.a.a")) for i in issues] == [("a", True)]
    assert "deeper than 64 levels" in issues[0].message


def test_validate_rejects_a_document_that_is_not_an_object() -> None:
    for document in (None, [], "name: wf", 5):
        assert located(issues_of(document)) == [(None, "")]


# ----------------------------------------------------------------------------- graph rules

GRAPH_CASES = {
    "no trigger": ({"name": "wf", "steps": [transform("a")]}, [(None, "steps")]),
    "two triggers": ({"name": "wf", "steps": [step("t1", "trigger", "a"), step("t2", "trigger", "a"), transform("a")]},
                     [("t2", "steps[1].step_type")]),
    "unknown next step": (workflow(transform("a", "ghost")), [("a", "steps[1].next_steps")]),
    "unknown else step": (workflow(step("c", "condition", "a", else_steps=["ghost"], parameters={"condition": "true"}), transform("a")),
                          [("c", "steps[1].else_steps")]),
    "unknown loop body": (workflow(step("each", "loop", parameters={"items": "{{input.x}}", "body": "ghost"})),
                          [("each", "steps[1].parameters.body")]),
    "unknown join": (workflow(step("fan", "parallel", "a", parameters={"join": "ghost"}), transform("a")),
                     [("fan", "steps[1].parameters.join")]),
    "step names itself": (workflow(transform("a", "a")), [("a", "steps[1]"), ("a", "steps[1].next_steps")]),
    "cycle": (workflow(transform("a", "b"), transform("b", "c"), transform("c", "a")), [("c", "steps[3]")]),
    "cycle through a condition": (load_fixture("invalid", "cycle.json"), [("check", "steps[2]")]),
    "cycle back to the trigger": (workflow(transform("a", "trigger")), [("a", "steps[1]"), ("trigger", "steps[0]")]),
    "unreachable step": (workflow(transform("a"), transform("island"), transform("island-2", "island")),
                         [("island", "steps[2]"), ("island-2", "steps[3]")]),
    "two next steps": (workflow(transform("a", "b", "c"), transform("b"), transform("c")), [("a", "steps[1].next_steps")]),
    "else_steps on a transform": (workflow(transform("a") | {"else_steps": ["b"]}, transform("b")), [("a", "steps[1].else_steps")]),
    "condition with two true steps": (workflow(step("c", "condition", "a", "b", parameters={"condition": "true"}), transform("a"), transform("b")),
                                      [("c", "steps[1].next_steps")]),
    "duplicate step id": (workflow(transform("a", "a-2"), transform("a-2"), transform("a")), [("a", "steps[3].step_id")]),
    "same next step twice": (workflow(step("fan", "parallel", "a", "a"), transform("a")), [("fan", "steps[1].next_steps")]),
    "join is also a branch": (workflow(step("fan", "parallel", "a", "b", parameters={"join": "b"}), transform("a", "b"), transform("b")),
                              [("fan", "steps[1].parameters.join")]),
    "branch leaks past the join": (load_fixture("invalid", "branch-leaks-past-join.json"), [("right", "steps[3]")]),
    "branch jumps into a sibling": (workflow(step("fan", "parallel", "left", "right"), transform("left", "right"), transform("right")),
                                    [("left", "steps[2]")]),
    "branch jumps back to the main graph": (workflow(transform("a", "fan"), step("fan", "parallel", "left"), transform("left", "a")),
                                            [("left", "steps[3]"), ("left", "steps[3]")]),  # a leak and a cycle
    "loop body jumps out": (load_fixture("invalid", "loop-body-jumps-out.json"), [("price", "steps[2]")]),
    "main graph jumps into a loop body": (workflow(step("each", "loop", "inner", parameters={"items": "{{input.x}}", "body": "inner"}),
                                                   transform("inner")),
                                          [("each", "steps[1]")]),
    "loop body is the loop": (workflow(step("each", "loop", parameters={"items": "{{input.x}}", "body": "each"})),
                              [("each", "steps[1]"), ("each", "steps[1]")]),  # a leak and a cycle
    "retry on a transform": (workflow(transform("a") | {"retry": {"max_attempts": 2}}), [("a", "steps[1].retry")]),
    "retry on a condition": (workflow(step("c", "condition", "a", parameters={"condition": "true"}, retry={"max_attempts": 2}), transform("a")),
                             [("c", "steps[1].retry")]),
    "timeout on a delay": (workflow(step("w", "delay", parameters={"seconds": 1}, timeout_seconds=5)), [("w", "steps[1].timeout_seconds")]),
    "timeout on the trigger": (workflow(trigger=step("t", "trigger", timeout_seconds=5)), [("t", "steps[0].timeout_seconds")]),
}


@pytest.mark.parametrize(("document", "expected"), GRAPH_CASES.values(), ids=GRAPH_CASES.keys())
def test_validate_reports_a_broken_graph_rule(document: dict[str, Any], expected: list[tuple[str | None, str]]) -> None:
    assert located(issues_of(document)) == expected


def test_validate_names_the_cycle_and_the_leak() -> None:
    issues = issues_of(load_fixture("invalid", "cycle.json"))
    assert [i.message for i in issues] == ["cycle fetch -> check -> fetch; workflows are acyclic, use a loop step to repeat work"]
    [leak] = issues_of(load_fixture("invalid", "loop-body-jumps-out.json"))
    assert leak.message.startswith("step 'total' belongs to the main graph but is also reached from the body of loop 'each'")


def test_validate_reports_the_extra_trigger_of_two() -> None:
    issues = issues_of(load_fixture("invalid", "two-triggers.json"))
    assert [(i.step_id, i.message) for i in issues] == [
        ("hook", "a workflow has exactly one trigger step, found 2; 'chat' is the entry"),
    ]


def test_validate_does_not_repeat_edges_to_a_step_of_unknown_type() -> None:
    # GIVEN a step of unknown type that other steps lead to
    document = workflow(transform("a", "mystery"), step("mystery", "magic"))
    # WHEN validated THEN only the unknown type is reported, not the edges to it
    assert located(issues_of(document)) == [("mystery", "steps[2].step_type")]


# ----------------------------------------------------------------------------- step parameters

PARAMETER_CASES = {
    # trigger
    "trigger kind unknown": (workflow(trigger=step("t", "trigger", parameters={"kind": "email"})), [("t", "steps[0].parameters.kind")]),
    "trigger unknown parameter": (workflow(trigger=step("t", "trigger", parameters={"knd": "api"})), [("t", "steps[0]")]),
    "schedule without cron or rate": (workflow(trigger=step("t", "trigger", parameters={"kind": "schedule"})), [("t", "steps[0]")]),
    "schedule with cron and rate": (workflow(trigger=step("t", "trigger", parameters={"kind": "schedule", "cron": "0 12 * * ? *", "rate": "1 day"})),
                                    [("t", "steps[0]")]),
    "schedule cron not text": (workflow(trigger=step("t", "trigger", parameters={"kind": "schedule", "cron": 5})), [("t", "steps[0].parameters.cron")]),
    "schedule bad cron": (workflow(trigger=step("t", "trigger", parameters={"kind": "schedule", "cron": "cron(0 12 * *)"})),
                          [("t", "steps[0].parameters.cron")]),
    "schedule bad rate": (workflow(trigger=step("t", "trigger", parameters={"kind": "schedule", "rate": "every 5 minutes"})),
                          [("t", "steps[0].parameters.rate")]),
    "cron on a chat trigger": (workflow(trigger=step("t", "trigger", parameters={"kind": "chat", "cron": "0 12 * * ? *"})),
                               [("t", "steps[0].parameters.cron")]),
    "secret on an api trigger": (workflow(trigger=step("t", "trigger", parameters={"secret_name": "s"})), [("t", "steps[0].parameters.secret_name")]),
    # agent_execution
    "agent without agent_id": (workflow(step("a", "agent_execution", parameters={})), [("a", "steps[1].parameters.agent_id")]),
    "agent_id blank": (workflow(step("a", "agent_execution", parameters={"agent_id": " "})), [("a", "steps[1].parameters.agent_id")]),
    "agent max_iterations 0": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "max_iterations": 0})),
                               [("a", "steps[1].parameters.max_iterations")]),
    # issue 14: above 900 s a step is async unless it says sync; above 8 hours it is refused
    "agent sync timeout above 900": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "mode": "sync", "timeout_seconds": 901})),
                                     [("a", "steps[1].parameters.timeout_seconds")]),
    "agent timeout above 8 hours": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "timeout_seconds": 28801})),
                                    [("a", "steps[1].parameters.timeout_seconds")]),
    "agent heartbeat not below timeout": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "mode": "async", "timeout_seconds": 300})),
                                          [("a", "steps[1].parameters.heartbeat_seconds")]),
    "agent heartbeat in sync mode": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "heartbeat_seconds": 30})),
                                     [("a", "steps[1].parameters.heartbeat_seconds")]),
    "agent mode unknown": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "mode": "later"})),
                           [("a", "steps[1].parameters.mode")]),
    "agent unknown parameter": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "prompt": "hi"})), [("a", "steps[1]")]),
    "agent payload malformed": (workflow(step("a", "agent_execution", parameters={"agent_id": "x", "payload": {"q": ["{{input.q"]}})),
                                [("a", "steps[1].parameters.payload")]),
    # condition
    "condition without condition": (workflow(step("c", "condition", "a", parameters={}), transform("a")), [("c", "steps[1].parameters.condition")]),
    "condition not text": (workflow(step("c", "condition", "a", parameters={"condition": True}), transform("a")),
                           [("c", "steps[1].parameters.condition")]),
    "condition without next_steps": (workflow(step("c", "condition", parameters={"condition": "true"})), [("c", "steps[1].next_steps")]),
    "condition malformed": (workflow(step("c", "condition", "a", parameters={"condition": "{{input.a}} == (1"}), transform("a")),
                            [("c", "steps[1].parameters.condition")]),
    "condition unknown root": (workflow(step("c", "condition", "a", parameters={"condition": "{{inputs.a}} == 1"}), transform("a")),
                               [("c", "steps[1].parameters.condition")]),
    # loop
    "loop without items and body": (workflow(step("l", "loop", parameters={})),
                                    [("l", "steps[1].parameters.body"), ("l", "steps[1].parameters.items")]),
    "loop items not an expression": (workflow(step("l", "loop", parameters={"items": "input.orders", "body": "b"}), transform("b")) | {},
                                     [("l", "steps[1].parameters.items")]),
    "loop items two templates": (workflow(step("l", "loop", parameters={"items": "{{input.a}} {{input.b}}", "body": "b"}), transform("b")),
                                 [("l", "steps[1].parameters.items")]),
    "loop bad mode": (workflow(step("l", "loop", parameters={"items": "{{input.a}}", "body": "b", "mode": "serial"}), transform("b")),
                      [("l", "steps[1].parameters.mode")]),
    "loop negative concurrency": (workflow(step("l", "loop", parameters={"items": "{{input.a}}", "body": "b", "max_concurrency": -1}), transform("b")),
                                  [("l", "steps[1].parameters.max_concurrency")]),
    "loop tolerance on inline": (workflow(step("l", "loop", parameters={"items": "{{input.a}}", "body": "b", "tolerated_failure_count": 1}), transform("b")),
                                 [("l", "steps[1].parameters.tolerated_failure_count")]),
    # parallel
    "parallel without branches": (workflow(step("p", "parallel", parameters={})), [("p", "steps[1].next_steps")]),
    "parallel join not text": (workflow(step("p", "parallel", "a", parameters={"join": ["a"]}), transform("a")), [("p", "steps[1].parameters.join")]),
    # human_approval
    "approval without approvers": (workflow(step("h", "human_approval", parameters={})), [("h", "steps[1].parameters.approvers")]),
    "approval empty approvers": (workflow(step("h", "human_approval", parameters={"approvers": []})), [("h", "steps[1].parameters.approvers")]),
    "approval timeout 0": (workflow(step("h", "human_approval", parameters={"approvers": ["a"], "timeout_hours": 0})),
                           [("h", "steps[1].parameters.timeout_hours")]),
    "approval message not text": (workflow(step("h", "human_approval", parameters={"approvers": ["a"], "message": {"m": 1}})),
                                  [("h", "steps[1].parameters.message")]),
    # tool_call
    "tool without tool": (workflow(step("t1", "tool_call", parameters={"arguments": {}})), [("t1", "steps[1].parameters.tool")]),
    "tool arguments not an object": (workflow(step("t1", "tool_call", parameters={"tool": "x", "arguments": "q"})),
                                     [("t1", "steps[1].parameters.arguments")]),
    "tool arguments malformed": (workflow(step("t1", "tool_call", parameters={"tool": "x", "arguments": {"q": "{{ input.q }"}})),
                                 [("t1", "steps[1].parameters.arguments")]),
    # data_transform
    "transform without output": (workflow(step("d", "data_transform", parameters={})), [("d", "steps[1]")]),
    "transform with output and jsonata": (workflow(step("d", "data_transform", parameters={"output": 1, "jsonata": "1"})), [("d", "steps[1]")]),
    "transform malformed jsonata": (workflow(step("d", "data_transform", parameters={"jsonata": "$sum(1,"})), [("d", "steps[1].parameters.jsonata")]),
    "transform jsonata in {% %}": (workflow(step("d", "data_transform", parameters={"jsonata": "{% 1 %}"})), [("d", "steps[1].parameters.jsonata")]),
    "transform jsonata not text": (workflow(step("d", "data_transform", parameters={"jsonata": 1})), [("d", "steps[1].parameters.jsonata")]),
    "transform output malformed deep inside": (workflow(transform("d", output={"a": [{"b": "{{ steps. }}"}]})), [("d", "steps[1].parameters.output")]),
    # api_call
    "api without url": (workflow(step("api", "api_call", parameters={})), [("api", "steps[1].parameters.url")]),
    "api url not http": (workflow(step("api", "api_call", parameters={"url": "ftp://x"})), [("api", "steps[1].parameters.url")]),
    "api bad method": (workflow(step("api", "api_call", parameters={"url": "https://x", "method": "FETCH"})), [("api", "steps[1].parameters.method")]),
    "api headers not an object": (workflow(step("api", "api_call", parameters={"url": "https://x", "headers": ["a"]})),
                                  [("api", "steps[1].parameters.headers")]),
    "api header malformed": (workflow(step("api", "api_call", parameters={"url": "https://x", "headers": {"A": "{{input.a"}})),
                             [("api", "steps[1].parameters.headers")]),
    "api body malformed": (workflow(step("api", "api_call", parameters={"url": "https://x", "body": {"a": "{{nope}}"}})),
                           [("api", "steps[1].parameters.body")]),
    # delay
    "delay without seconds or until": (workflow(step("w", "delay", parameters={})), [("w", "steps[1]")]),
    "delay with seconds and until": (workflow(step("w", "delay", parameters={"seconds": 1, "until": "{{input.t}}"})), [("w", "steps[1]")]),
    "delay negative seconds": (workflow(step("w", "delay", parameters={"seconds": -1})), [("w", "steps[1].parameters.seconds")]),
    "delay seconds true": (workflow(step("w", "delay", parameters={"seconds": True})), [("w", "steps[1].parameters.seconds")]),
    "delay seconds text": (workflow(step("w", "delay", parameters={"seconds": "5"})), [("w", "steps[1].parameters.seconds")]),
    "delay seconds two templates": (workflow(step("w", "delay", parameters={"seconds": "{{input.a}} x {{input.b}}"})),
                                    [("w", "steps[1].parameters.seconds")]),
    "delay until blank": (workflow(step("w", "delay", parameters={"until": " "})), [("w", "steps[1].parameters.until")]),
}


@pytest.mark.parametrize(("document", "expected"), PARAMETER_CASES.values(), ids=PARAMETER_CASES.keys())
def test_validate_reports_a_missing_or_wrong_parameter(document: dict[str, Any], expected: list[tuple[str | None, str]]) -> None:
    assert located(issues_of(document)) == expected


# ----------------------------------------------------------------------------- references

REFERENCE_CASES = {
    "unknown root": (transform("d", output="{{ inputs.a }}"), "malformed expression: unknown root 'inputs'"),
    "unknown step": (transform("d", output={"x": "{{ steps.ghost.output }}"}), "'steps.ghost.output' refers to unknown step 'ghost'"),
    "step without .output": (transform("d", output=["{{ steps.trigger.kind }}"]), "'steps.trigger.kind': a step's value is read as steps.trigger.output"),
    "steps by index": (transform("d", output="{{ steps[0] }}"), "'steps[0]' must name a step: steps.<step_id>.output"),
    "unknown execution field": (transform("d", output="x {{ execution.arn }}"), "'execution.arn': execution has id, name and start_time"),
    "execution field with a path": (transform("d", output="{{ execution.name.first }}"), "'execution.name.first': execution has id, name and start_time"),
    "unknown workflow field": (transform("d", output="{{ workflow.version }}"), "'workflow.version': the only workflow field is workflow.name"),
    "item outside a loop": (transform("d", output={"deep": [{"x": "{{ item.id }}"}]}), "'item.id' exists only inside a loop body"),
    "index outside a loop": (step("w", "delay", parameters={"seconds": "{{ index }}"}), "'index' exists only inside a loop body"),
    "item in a condition outside a loop": (step("c", "condition", "x", parameters={"condition": "{{item}} == 1"}), "'item' exists only inside a loop body"),
}


@pytest.mark.parametrize(("bad_step", "message"), REFERENCE_CASES.values(), ids=REFERENCE_CASES.keys())
def test_validate_reports_a_bad_reference(bad_step: dict[str, Any], message: str) -> None:
    # GIVEN a step whose template or expression refers to something that does not exist
    extra = [transform("x")] if bad_step["step_type"] == "condition" else []
    issues = issues_of(workflow(bad_step, *extra))
    # WHEN validated THEN exactly one problem names the step and says what is wrong
    assert [i.step_id for i in issues] == [bad_step["step_id"]]
    assert issues[0].message.startswith(message)


def test_validate_accepts_item_and_index_in_a_nested_loop_body_and_its_branches() -> None:
    document = workflow(
        step("each", "loop", parameters={"items": "{{input.orders}}", "body": "fan"}),
        step("fan", "parallel", "left", "right", parameters={"join": "after"}),
        transform("left", "after", output="{{item.id}}"),
        step("right", "condition", "after", parameters={"condition": "{{index}} > 0"}),
        step("after", "loop", parameters={"items": "{{item.lines}}", "body": "line"}),
        transform("line", output={"line": "{{item}}", "i": "{{index}}"}),
    )
    assert issues_of(document) == []


# ----------------------------------------------------------------------------- agents and tools


def test_validate_reports_unknown_agent_and_tool_when_they_are_known() -> None:
    document = load_fixture("invalid", "unknown-agent-and-tool.json")
    issues = issues_of(document, agents=["support_agent"], tools=["lookup"])
    assert [(i.step_id, i.path, i.message) for i in issues] == [
        ("ask", "steps[1].parameters.agent_id",
         "unknown agent_id 'ghost_agent': there is no agents/ghost_agent/ (known agents: support_agent)"),
        ("look", "steps[2].parameters.tool", "unknown tool 'ghost_tool' (registered tools: lookup)"),
    ]


def test_validate_skips_agent_and_tool_checks_when_they_are_not_given() -> None:
    assert issues_of(load_fixture("invalid", "unknown-agent-and-tool.json")) == []


def test_validate_reports_every_agent_when_none_exist() -> None:
    issues = issues_of(load_fixture("invalid", "unknown-agent-and-tool.json"), agents=[], tools=[])
    assert located(issues) == [("ask", "steps[1].parameters.agent_id"), ("look", "steps[2].parameters.tool")]
    assert "(known agents: none)" in issues[0].message


# ----------------------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("cron", "cron(0 12 * * ? *)"),
        ("cron", "0 12 * * ? *"),
        ("cron", "cron(15 10 ? * 6L 2022-2023)"),
        ("cron", "cron(0/15 * * * ? *)"),
        ("cron", "cron(0 8 1 JAN,JUL ? *)"),
        ("cron", "cron(0 9 ? * MON-FRI *)"),
        ("rate", "rate(5 minutes)"),
        ("rate", "rate(1 hour)"),
        ("rate", "2 days"),
    ],
)
def test_validate_schedule_expression_accepts_eventbridge_syntax(kind: str, expression: str) -> None:
    assert validate_schedule_expression(kind, expression) is None


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("cron", "cron(0 12 * * *)"),  # 5 fields: Unix cron, not EventBridge
        ("cron", "cron(0 12 * * ? * *)"),
        ("cron", "cron(* * * * * *)"),  # day-of-month and day-of-week both set
        ("cron", "cron(0 12 ? * ? *)"),  # both '?'
        ("cron", "cron(0 12 * * ? %)"),
        ("cron", ""),
        ("rate", "rate(0 minutes)"),
        ("rate", "rate(5 weeks)"),
        ("rate", "rate(-1 hours)"),
        ("rate", "rate(minutes)"),
        ("rate", "every 5 minutes"),
        ("rate", "rate(1.5 hours)"),
    ],
)
def test_validate_schedule_expression_rejects_malformed_expressions(kind: str, expression: str) -> None:
    problem = validate_schedule_expression(kind, expression)
    assert problem is not None and repr(expression) in problem


# ----------------------------------------------------------------------------- purity


def test_validate_does_not_change_the_document() -> None:
    document = load_fixture("invalid", "many-problems.json")
    before = copy.deepcopy(document)
    issues_of(document)
    assert document == before


def test_subflow_naming_an_unknown_workflow_is_a_validation_error() -> None:
    parsed = parse_workflow({"name": "parent", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["nested"]},
        {"step_id": "nested", "step_type": "subflow", "parameters": {"workflow": "nowhere"}},
    ]})
    issues = validate_workflow(parsed.workflow, workflows={"parent", "child"})
    assert [(i.step_id, i.path) for i in issues] == [("nested", "steps[1].parameters.workflow")]
    assert "unknown workflow 'nowhere'" in issues[0].message and "child" in issues[0].message


def test_subflow_cycles_with_on_complete_are_rejected_across_workflows(tmp_path) -> None:
    from stepgraph import load_project

    (tmp_path / "workflows").mkdir()
    documents = {
        "a": {"name": "a", "steps": [{"step_id": "t", "step_type": "trigger", "next_steps": ["run_b"]},
                                     {"step_id": "run_b", "step_type": "subflow", "parameters": {"workflow": "b"}}]},
        "b": {"name": "b", "on_complete": [{"workflow": "a", "when": "any"}],
              "steps": [{"step_id": "t", "step_type": "trigger"}]},
    }
    for name, document in documents.items():
        (tmp_path / "workflows" / f"{name}.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(WorkflowValidationError) as exc:
        load_project(tmp_path)
    assert any("run each other forever (on_complete and subflow): a -> b -> a" in i.message for i in exc.value.issues)


def test_reading_a_parallel_branch_step_after_the_join_names_both_steps_and_what_to_read() -> None:
    parsed = parse_workflow({"name": "fan-in", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["split"]},
        {"step_id": "split", "step_type": "parallel", "parameters": {"join": "merge"}, "next_steps": ["process_a", "process_b"]},
        {"step_id": "process_a", "step_type": "data_transform", "parameters": {"output": {"result": 1}}},
        {"step_id": "process_b", "step_type": "data_transform", "parameters": {"output": {"result": 2}}},
        {"step_id": "merge", "step_type": "data_transform",
         "parameters": {"output": {"a": "{{steps.process_a.output.result}}", "b": "{{steps.split.output.process_b.result}}"}}},
    ]})
    issues = validate_workflow(parsed.workflow)
    assert [(i.step_id, i.path) for i in issues] == [("merge", "steps[4].parameters.output")]
    assert "'process_a' from step 'merge'" in issues[0].message
    assert "read its branch's result as steps.split.output.process_a" in issues[0].message


def test_reading_a_loop_body_step_outside_the_loop_or_a_later_step_is_a_validation_error() -> None:
    parsed = parse_workflow({"name": "later", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["each"]},
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.xs}}", "body": "double"}, "next_steps": ["early"]},
        {"step_id": "double", "step_type": "data_transform", "parameters": {"output": {"v": "{{item}}"}}},
        {"step_id": "early", "step_type": "data_transform",
         "parameters": {"output": {"d": "{{steps.double.output.v}}", "z": "{{steps.late.output}}"}}, "next_steps": ["late"]},
        {"step_id": "late", "step_type": "data_transform", "parameters": {"output": {"all": "{{steps.each.output}}"}}},
    ]})
    messages = [i.message for i in validate_workflow(parsed.workflow)]
    assert len(messages) == 2
    assert "read the loop's results as steps.each.output" in messages[0]
    assert "'late' has not run before 'early' on any path" in messages[1]
