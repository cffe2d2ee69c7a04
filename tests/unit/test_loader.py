"""Unit tests for stepgraph.loader: workflow files (JSON, YAML) to the frozen model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from stepgraph import ProjectError, RetryPolicy, Step, StepType, Workflow, WorkflowValidationError, load_workflow, parse_workflow
from stepgraph.loader import read_document
from stepgraph.model import ChainTarget, thaw

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"

SMALL_YAML = """\
# a comment, which JSON cannot hold
name: small
description: A trigger and a transform
steps:
  - step_id: trigger
    step_type: trigger
    parameters: {kind: chat}
    next_steps: [shape]
  - step_id: shape
    step_type: data_transform
    parameters:
      output:
        reply: "Hello {{input.name}}"
        list: [1, two, null]
"""

SMALL_JSON = {
    "name": "small",
    "description": "A trigger and a transform",
    "steps": [
        {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "chat"}, "next_steps": ["shape"]},
        {"step_id": "shape", "step_type": "data_transform",
         "parameters": {"output": {"reply": "Hello {{input.name}}", "list": [1, "two", None]}}},
    ],
}


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_load_workflow_reads_yaml_like_json(tmp_path: Path, suffix: str) -> None:
    # GIVEN the same workflow as YAML and as JSON
    from_yaml = load_workflow(write(tmp_path, "small" + suffix, SMALL_YAML))
    from_json = load_workflow(write(tmp_path, "small.json", SMALL_JSON))
    # WHEN both are loaded THEN the models are equal (apart from the source file)
    assert from_yaml.source is not None and from_yaml.source.endswith("small" + suffix)
    assert from_yaml.steps == from_json.steps
    assert (from_yaml.name, from_yaml.description) == (from_json.name, from_json.description) == ("small", "A trigger and a transform")


def test_load_workflow_builds_the_whole_model(tmp_path: Path) -> None:
    # GIVEN a document using every step field
    document = {
        "name": "model-check",
        "description": "d",
        "on_complete": [{"workflow": "next-one"}, {"workflow": "audit", "when": "failed"}],
        "steps": [
            {"step_id": "trigger", "step_type": "trigger", "next_steps": ["ask"]},
            {"step_id": "ask", "step_type": "agent_execution", "parameters": {"agent_id": "support_agent"},
             "retry": {"max_attempts": 3, "backoff_seconds": 5}, "timeout_seconds": 60, "next_steps": ["check"]},
            {"step_id": "check", "step_type": "condition", "parameters": {"condition": "true"},
             "next_steps": ["done"], "else_steps": ["other"]},
            {"step_id": "done", "step_type": "tool_call", "parameters": {"tool": "t"},
             "retry": {"max_attempts": 2, "backoff_seconds": 0.5, "backoff_rate": 1.5}},
            {"step_id": "other", "step_type": "data_transform", "parameters": {"output": 1}},
        ],
    }
    # WHEN loaded
    workflow = load_workflow(write(tmp_path, "m.json", document))
    # THEN every field lands in the model, with defaults filled in
    assert workflow == Workflow(
        name="model-check",
        description="d",
        on_complete=(ChainTarget("next-one", "completed"), ChainTarget("audit", "failed")),
        source=str(tmp_path / "m.json"),
        steps=(
            Step("trigger", StepType.TRIGGER, MappingProxyType({}), ("ask",), (), None, None, 0),
            Step("ask", StepType.AGENT_EXECUTION, MappingProxyType({"agent_id": "support_agent"}), ("check",), (),
                 RetryPolicy(3, 5, 2.0), 60, 1),
            Step("check", StepType.CONDITION, MappingProxyType({"condition": "true"}), ("done",), ("other",), None, None, 2),
            Step("done", StepType.TOOL_CALL, MappingProxyType({"tool": "t"}), (), (), RetryPolicy(2, 0.5, 1.5), None, 3),
            Step("other", StepType.DATA_TRANSFORM, MappingProxyType({"output": 1}), (), (), None, None, 4),
        ),
    )
    assert workflow.trigger is workflow.steps[0]
    assert workflow.agent_ids == ("support_agent",)
    assert [s.step_id for s in workflow.steps if s.is_terminal] == ["done", "other"]
    assert list(workflow.steps_by_id) == ["trigger", "ask", "check", "done", "other"]


def test_parse_workflow_freezes_parameters(tmp_path: Path) -> None:
    # GIVEN a loaded workflow
    workflow = load_workflow(write(tmp_path, "small.json", SMALL_JSON))
    output = workflow.steps_by_id["shape"].param("output")
    # WHEN its parameters are changed THEN the model refuses: it is read-only all the way down
    with pytest.raises(TypeError):
        output["reply"] = "changed"  # type: ignore[index]
    assert output["list"] == (1, "two", None)
    assert thaw(output) == {"reply": "Hello {{input.name}}", "list": [1, "two", None]}


def test_parse_workflow_does_not_share_state_with_the_document() -> None:
    document = json.loads(json.dumps(SMALL_JSON))
    workflow = parse_workflow(document).workflow
    document["steps"][1]["parameters"]["output"]["reply"] = "changed"
    assert workflow is not None and workflow.steps[1].param("output")["reply"] == "Hello {{input.name}}"


def test_load_workflow_raises_project_error_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="no such workflow file"):
        load_workflow(tmp_path / "absent.json")


def test_load_workflow_raises_project_error_for_another_extension(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"ends in \.json, \.yaml or \.yml"):
        load_workflow(write(tmp_path, "flow.txt", SMALL_JSON))


@pytest.mark.parametrize(("name", "content", "kind"), [
    ("bad.json", '{"name": "x", "steps": [', "JSON"),
    ("bad.json", "", "JSON"),
    ("bad.yaml", "name: [unclosed", "YAML"),
    ("bad.yaml", "steps:\n  - a: 1\n - b: 2\n", "YAML"),
])
def test_load_workflow_raises_project_error_for_a_file_that_does_not_parse(tmp_path: Path, name: str, content: str, kind: str) -> None:
    with pytest.raises(ProjectError, match=f"not valid {kind}"):
        load_workflow(write(tmp_path, name, content))


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_load_workflow_raises_project_error_for_a_file_nested_beyond_reading(tmp_path: Path, name: str) -> None:
    # GIVEN a file nested deeper than the decoder can go WHEN loaded THEN ProjectError, not RecursionError
    depth = 100_000
    content = '{"name": "deep", "steps": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ProjectError, match="nested too deeply"):
        load_workflow(write(tmp_path, name, content))


@pytest.mark.parametrize("content", ["[]", "just text", "42", "null"])
def test_load_workflow_raises_validation_error_for_a_document_that_is_not_an_object(tmp_path: Path, content: str) -> None:
    with pytest.raises(WorkflowValidationError) as caught:
        load_workflow(write(tmp_path, "odd.yaml", content))
    assert [(i.step_id, i.path) for i in caught.value.issues] == [(None, "")]
    assert caught.value.source == str(tmp_path / "odd.yaml")


# ----------------------------------------------------------------------------- YAML values JSON cannot hold


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        ("2024-01-31", "steps[1].parameters.output.when", "date"),
        ("2024-01-31T10:00:00Z", "steps[1].parameters.output.when", "datetime"),
        (".inf", "steps[1].parameters.output.when", "inf"),
        (".nan", "steps[1].parameters.output.when", "nan"),
        ("{1: one}", "steps[1].parameters.output.when", "the key 1"),
        ("!!binary aGVsbG8=", "steps[1].parameters.output.when", "bytes"),
        ("!!set {a, b}", "steps[1].parameters.output.when", "set"),
    ],
)
def test_load_workflow_rejects_yaml_values_that_are_not_json(tmp_path: Path, value: str, path: str, words: str) -> None:
    # GIVEN an unquoted YAML value that is not a JSON value (a date, .inf, a number as key ...)
    content = SMALL_YAML.replace("reply: \"Hello {{input.name}}\"", f"when: {value}")
    # WHEN loaded THEN it is a validation problem of that step, not a crash at compile time
    with pytest.raises(WorkflowValidationError) as caught:
        load_workflow(write(tmp_path, "dates.yaml", content))
    [issue] = caught.value.issues
    assert (issue.step_id, issue.path) == ("shape", path)
    assert words in issue.message


def test_load_workflow_reports_unknown_keys_of_any_type(tmp_path: Path) -> None:
    # GIVEN YAML keys that are not strings, next to unknown string keys
    content = SMALL_YAML.replace("name: small\n", "name: small\n1: one\nextra: two\n")
    content = content.replace("    step_type: trigger\n", "    step_type: trigger\n    2: x\n    color: red\n")
    # WHEN loaded THEN both are reported, and sorting mixed keys does not crash
    with pytest.raises(WorkflowValidationError) as caught:
        load_workflow(write(tmp_path, "keys.yaml", content))
    assert [(i.step_id, i.path) for i in caught.value.issues] == [(None, ""), ("trigger", "steps[0]")]
    assert "[1, 'extra']" in caught.value.issues[0].message


def test_load_workflow_rejects_a_retry_block_with_keys_of_any_type(tmp_path: Path) -> None:
    content = SMALL_YAML.replace("    parameters: {kind: chat}\n", "    parameters: {kind: chat}\n    retry: {1: 2, tries: 3}\n")
    with pytest.raises(WorkflowValidationError) as caught:
        load_workflow(write(tmp_path, "retry.yaml", content))
    assert [(i.step_id, i.path) for i in caught.value.issues] == [("trigger", "steps[0].retry"), ("trigger", "steps[0].retry")]


def test_read_document_returns_the_decoded_document(tmp_path: Path) -> None:
    assert read_document(write(tmp_path, "small.yaml", SMALL_YAML)) == SMALL_JSON
    assert read_document(write(tmp_path, "small.json", SMALL_JSON)) == SMALL_JSON


def test_load_workflow_loads_the_repository_workflows() -> None:
    for path in sorted((WORKFLOWS.parents[1] / "workflows").glob("*.json")):
        assert load_workflow(path).name == path.stem


# ----------------------------------------------------------------------------- limits (SPEC §13)


def _billion_laughs(levels: int = 9) -> str:
    """A YAML document of ``levels`` nested lists of nine aliases each (9**levels strings)."""
    lines = ["name: bomb", "anchors:", '  - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"  - &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + f"""
steps:
  - step_id: trigger
    step_type: trigger
    parameters: {{kind: chat}}
    next_steps: [shape]
  - step_id: shape
    step_type: data_transform
    parameters: {{output: {{v: *l{levels - 1}}}}}
"""


def test_load_workflow_refuses_yaml_bomb_in_under_a_second(tmp_path: Path) -> None:
    # GIVEN a 1 KB "billion laughs" document (9**9 strings once expanded)
    path = write(tmp_path, "bomb.yaml", _billion_laughs())
    assert path.stat().st_size < 1024
    started = time.perf_counter()
    # WHEN it is loaded THEN it is refused at once, naming the rule
    with pytest.raises(WorkflowValidationError, match=r"YAML aliases are not allowed.*\*l0 at line 4"):
        load_workflow(path)
    assert time.perf_counter() - started < 1.0


def test_read_document_keeps_anchors_without_aliases(tmp_path: Path) -> None:
    assert read_document(write(tmp_path, "anchored.yaml", "name: &n small\nsteps: []\n")) == {"name": "small", "steps": []}


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_read_document_refuses_documents_over_one_mib_before_parsing(tmp_path: Path, suffix: str, monkeypatch) -> None:
    # GIVEN a document one byte over 1 MiB
    document = json.dumps({"name": "big", "description": "", "steps": []})
    path = write(tmp_path, "big" + suffix, document[:-1] + " " * (1_048_577 - len(document)) + "}")
    assert path.stat().st_size == 1_048_577

    def no_parsing(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the document was parsed")

    monkeypatch.setattr(json, "loads", no_parsing)
    monkeypatch.setattr(yaml, "load", no_parsing)
    # WHEN it is read THEN it is refused with the limit named, without parsing it
    with pytest.raises(WorkflowValidationError, match=r"larger than 1,048,576 bytes \(1 MiB\)"):
        read_document(path)


def test_read_document_reads_a_document_of_exactly_one_mib(tmp_path: Path) -> None:
    document = json.dumps({"name": "big", "description": "", "steps": []})
    path = write(tmp_path, "big.json", document[:-1] + " " * (1_048_576 - len(document)) + "}")
    assert read_document(path)["name"] == "big"
