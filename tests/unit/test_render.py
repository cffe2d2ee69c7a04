"""Tests for stepgraph/render.py (Mermaid, DOT, SVG, PNG) and the ``stepgraph render`` command."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stepgraph import parse_workflow, validate_workflow
from stepgraph.cli import app
from stepgraph.exceptions import StepgraphError
from stepgraph.model import StepType, Workflow
from stepgraph.render import GraphvizNotFoundError, RenderError, render, to_graphviz, to_mermaid

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed (apt-get install graphviz)")

#: A condition holding both kinds of quotes and brackets, to check label escaping.
QUOTED_CONDITION = "{{steps.classify.output.label}} == \"urgent [p1]\" or {{input['tier']}} == 'gold <vip>'"


# ----------------------------------------------------------------------------- helpers


def full_document() -> dict[str, Any]:
    """All ten step types: a condition with both branches, an approval without else_steps,
    a loop whose body has two steps, and a parallel with two branches and a join."""
    return {
        "name": "render-everything",
        "description": "every step type once",
        "steps": [
            {"step_id": "start", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["fetch"]},
            {"step_id": "fetch", "step_type": "api_call",
             "parameters": {"url": "https://example.com/orders", "method": "post"}, "next_steps": ["classify"]},
            {"step_id": "classify", "step_type": "agent_execution", "parameters": {"agent_id": "triage"},
             "next_steps": ["check"]},
            {"step_id": "check", "step_type": "condition", "parameters": {"condition": QUOTED_CONDITION},
             "next_steps": ["sign_off"], "else_steps": ["cool_down"]},
            {"step_id": "sign_off", "step_type": "human_approval",
             "parameters": {"approvers": ["ops@example.com", "lead@example.com"]}, "next_steps": ["each_order"]},
            {"step_id": "cool_down", "step_type": "delay", "parameters": {"seconds": 30}, "next_steps": ["each_order"]},
            {"step_id": "each_order", "step_type": "loop",
             "parameters": {"items": "{{input.orders}}", "body": "lookup"}, "next_steps": ["fan_out"]},
            {"step_id": "lookup", "step_type": "tool_call",
             "parameters": {"tool": "order_lookup", "arguments": {"id": "{{item.id}}"}}, "next_steps": ["shape"]},
            {"step_id": "shape", "step_type": "data_transform", "parameters": {"output": {"id": "{{item.id}}"}}},
            {"step_id": "fan_out", "step_type": "parallel", "parameters": {"join": "merge"},
             "next_steps": ["notify", "score"]},
            {"step_id": "notify", "step_type": "api_call",
             "parameters": {"url": "https://hooks.example.com/notify", "method": "POST"}, "next_steps": ["merge"]},
            {"step_id": "score", "step_type": "agent_execution", "parameters": {"agent_id": "scorer"},
             "next_steps": ["audit"]},
            {"step_id": "audit", "step_type": "subflow", "parameters": {"workflow": "audit-trail"},
             "next_steps": ["settle"]},
            {"step_id": "settle", "step_type": "delay", "parameters": {"until": "{{input.deadline}}"}},
            {"step_id": "merge", "step_type": "data_transform",
             "parameters": {"jsonata": "$merge([$states.input.steps.fan_out.output])"}},
        ],
    }


def nested_document() -> dict[str, Any]:
    """A loop inside a parallel branch: the loop body's group sits inside the branch's group."""
    return {
        "name": "render-nested",
        "steps": [
            {"step_id": "start", "step_type": "trigger", "next_steps": ["split"]},
            {"step_id": "split", "step_type": "parallel", "parameters": {"join": "after"},
             "next_steps": ["left", "right"]},
            {"step_id": "left", "step_type": "loop", "parameters": {"items": "{{input.items}}", "body": "inner"},
             "next_steps": ["after"]},
            {"step_id": "inner", "step_type": "delay", "parameters": {"seconds": 1}},
            {"step_id": "right", "step_type": "data_transform", "parameters": {"output": {"ok": True}}},
            {"step_id": "after", "step_type": "data_transform", "parameters": {"output": {"done": True}}},
        ],
    }


def build(document: dict[str, Any]) -> Workflow:
    """Parse a document and check that it is a valid workflow (agents and tools not checked)."""
    parsed = parse_workflow(document)
    assert parsed.workflow is not None and not parsed.issues
    issues = validate_workflow(parsed.workflow)
    assert not issues, issues
    return parsed.workflow


def mermaid_edges(text: str) -> set[tuple[str, str, str]]:
    """``(source, label, target)`` of every Mermaid edge line (label ``""`` when there is none)."""
    found = set()
    for match in re.finditer(r'^\s*(\S+) -\.?->(?:\|"([^"]*)"\|)? (\S+)$', text, re.MULTILINE):
        found.add((match.group(1), match.group(2) or "", match.group(3)))
    return found


def write_project(root: Path, document: dict[str, Any]) -> Path:
    """A project folder with one workflow file; returns the file."""
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    file = root / "workflows" / f"{document['name']}.json"
    file.write_text(json.dumps(document), encoding="utf-8")
    return file


def cli_document() -> dict[str, Any]:
    """A valid workflow needing no agents and no tools (the CLI checks both against the project)."""
    return {
        "name": "render-cli",
        "steps": [
            {"step_id": "start", "step_type": "trigger", "next_steps": ["each"]},
            {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.items}}", "body": "pause"},
             "next_steps": ["ok"]},
            {"step_id": "pause", "step_type": "delay", "parameters": {"seconds": 1}},
            {"step_id": "ok", "step_type": "human_approval", "parameters": {"approvers": ["me"]}},
        ],
    }


@pytest.fixture
def workflow() -> Workflow:
    return build(full_document())


# ----------------------------------------------------------------------------- Mermaid


def test_full_document_covers_every_step_type(workflow: Workflow) -> None:
    assert {s.step_type for s in workflow.steps} == set(StepType)


def test_to_mermaid_is_a_top_down_flowchart(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    assert "\nflowchart TD\n" in text
    assert 'title: "render-everything"' in text


def test_to_mermaid_labels_every_step_with_id_and_type(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    for step in workflow.steps:
        node = re.search(rf'^\s*s_{step.step_id}\W.*$', text, re.MULTILINE)
        assert node is not None, step.step_id
        assert f'"{step.step_id}<br/>{step.step_type.value}' in node.group(0)


def test_to_mermaid_shows_step_details(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    for detail in ("agent: triage", "tool: order_lookup", "each of {{input.orders}}", "wait 30 s",
                   "until {{input.deadline}}", "POST https://example.com/orders", "ops@example.com", "join: merge"):
        assert detail in text, detail


def test_to_mermaid_draws_shapes_per_step_type(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    assert re.search(r'^\s*s_start\(\["', text, re.MULTILINE)  # trigger: stadium
    assert re.search(r'^\s*s_check\{"', text, re.MULTILINE)  # condition: rhombus
    assert re.search(r'^\s*s_sign_off\{"', text, re.MULTILINE)  # human_approval: rhombus
    assert re.search(r'^\s*s_each_order\[\["', text, re.MULTILINE)  # loop: subroutine
    assert re.search(r'^\s*s_fan_out\[\["', text, re.MULTILINE)  # parallel: subroutine


def test_to_mermaid_groups_loop_body_and_branches_in_subgraphs(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    titles = re.findall(r'^\s*subgraph \w+ \["([^"]*)"\]$', text, re.MULTILINE)
    assert titles == ["body of loop 'each_order'", "branch 'notify' of parallel 'fan_out'",
                      "branch 'score' of parallel 'fan_out'"]
    body = text.split("body of loop 'each_order'")[1].split("\n    end\n")[0]
    assert "s_lookup" in body and "s_shape" in body and "s_fan_out" not in body


def test_to_mermaid_nests_subgraphs_like_the_scopes() -> None:
    text = to_mermaid(build(nested_document()))
    lines = [line.rstrip() for line in text.splitlines()]
    branch = next(i for i, line in enumerate(lines) if "branch 'left' of parallel 'split'" in line)
    loop = next(i for i, line in enumerate(lines) if "body of loop 'left'" in line)
    assert lines[branch].startswith(" " * 4 + "subgraph")
    assert lines[loop].startswith(" " * 8 + "subgraph")
    branch_end = next(i for i in range(branch + 1, len(lines)) if lines[i] == "    end")
    assert branch < loop < branch_end


def test_to_mermaid_labels_edges(workflow: Workflow) -> None:
    edges = mermaid_edges(to_mermaid(workflow))
    assert ("s_check", "true", "s_sign_off") in edges
    assert ("s_check", "false", "s_cool_down") in edges
    assert ("s_sign_off", "approved", "s_each_order") in edges
    assert ("s_each_order", "each item", "s_lookup") in edges
    assert ("s_each_order", "done", "s_fan_out") in edges
    assert ("s_fan_out", "branch", "s_notify") in edges
    assert ("s_fan_out", "branch", "s_score") in edges
    assert ("s_lookup", "", "s_shape") in edges


def test_to_mermaid_joins_branch_ends_to_the_join_step(workflow: Workflow) -> None:
    edges = mermaid_edges(to_mermaid(workflow))
    assert ("s_notify", "join", "s_merge") in edges
    assert ("s_settle", "join", "s_merge") in edges
    assert not any(source == "s_fan_out" and target == "s_merge" for source, _, target in edges)


def test_to_mermaid_ends_a_parallel_without_join_with_done() -> None:
    document = {
        "name": "no-join",
        "steps": [
            {"step_id": "start", "step_type": "trigger", "next_steps": ["both"]},
            {"step_id": "both", "step_type": "parallel", "next_steps": ["one", "two"]},
            {"step_id": "one", "step_type": "delay", "parameters": {"seconds": 1}},
            {"step_id": "two", "step_type": "delay", "parameters": {"seconds": 2}},
        ],
    }
    edges = mermaid_edges(to_mermaid(build(document)))
    assert edges == {("s_start", "", "s_both"), ("s_both", "branch", "s_one"), ("s_both", "branch", "s_two"),
                     ("s_both", "done", "n_end")}


def test_to_mermaid_draws_rejection_to_fail_node_when_no_else_steps(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    edges = mermaid_edges(text)
    fail = next(target for source, label, target in edges if source == "s_sign_off" and label == "rejected")
    assert re.search(rf'^\s*{fail}\(\["fails<br/>APPROVAL_REJECTED"\]\)$', text, re.MULTILINE)


def test_to_mermaid_draws_rejection_to_else_step_when_given() -> None:
    document = cli_document()
    document["steps"][3]["else_steps"] = ["no"]
    document["steps"].append({"step_id": "no", "step_type": "data_transform", "parameters": {"output": {}}})
    text = to_mermaid(build(document))
    assert ("s_ok", "rejected", "s_no") in mermaid_edges(text)
    assert "APPROVAL_REJECTED" not in text


def test_to_mermaid_links_main_graph_ends_to_end_node(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    edges = mermaid_edges(text)
    assert re.search(r'^\s*n_end\(\("end<br/>result"\)\)$', text, re.MULTILINE)
    assert {source for source, _, target in edges if target == "n_end"} == {"s_merge"}
    assert ("s_shape", "", "n_end") not in edges  # a loop body's end is not the workflow's end


def test_to_mermaid_escapes_quotes_and_markup_in_labels(workflow: Workflow) -> None:
    text = to_mermaid(workflow)
    line = next(line for line in text.splitlines() if line.strip().startswith("s_check{"))
    assert line.count('"') == 2  # only the label's own quotes
    assert "#quot;urgent [p1]#quot;" in line
    assert "#lt;vip#gt;" in line and "<vip>" not in line
    assert line.endswith('"}')


def test_to_mermaid_gives_valid_node_ids_to_hyphenated_and_keyword_step_ids() -> None:
    document = {
        "name": "ids",
        "steps": [
            {"step_id": "end", "step_type": "trigger", "next_steps": ["a-b"]},
            {"step_id": "a-b", "step_type": "delay", "parameters": {"seconds": 1}, "next_steps": ["a_b"]},
            {"step_id": "a_b", "step_type": "delay", "parameters": {"seconds": 2}},
        ],
    }
    edges = mermaid_edges(to_mermaid(build(document)))
    assert edges == {("s_end", "", "s_a_b"), ("s_a_b", "", "s_a_b_2"), ("s_a_b_2", "", "n_end")}


# ----------------------------------------------------------------------------- Graphviz


def test_to_graphviz_nests_clusters_like_the_scopes() -> None:
    source = to_graphviz(build(nested_document())).source
    branch = source.index("branch 'left' of parallel 'split'")
    loop = source.index("body of loop 'left'")
    assert source.count("subgraph cluster_") == 3
    assert branch < loop
    assert source[:branch].count("{") - source[:branch].count("}") == 2  # graph + branch cluster
    assert source[:loop].count("{") - source[:loop].count("}") == 3  # graph + branch + loop body


def test_to_graphviz_sets_layout_font_and_edge_labels(workflow: Workflow) -> None:
    source = to_graphviz(workflow).source
    assert "rankdir=TB" in source and "fontname=Helvetica" in source
    for label in ("true", "false", "approved", "rejected", "each item", "branch", "join", "done"):
        assert f'label=" {label} "' in source, label


# ----------------------------------------------------------------------------- render()


def test_render_writes_mermaid_for_mmd_suffix(workflow: Workflow, tmp_path: Path) -> None:
    written = render(workflow, tmp_path / "out" / "graph.mmd")
    assert written == tmp_path / "out" / "graph.mmd"
    assert written.read_text(encoding="utf-8") == to_mermaid(workflow)


@pytest.mark.parametrize("suffix", [".dot", ".gv"])
def test_render_writes_dot_text_for_dot_suffixes(workflow: Workflow, tmp_path: Path, suffix: str) -> None:
    written = render(workflow, tmp_path / f"graph{suffix}")
    assert written.read_text(encoding="utf-8").startswith("digraph ")


def test_render_rejects_unknown_suffix_listing_supported_ones(workflow: Workflow, tmp_path: Path) -> None:
    with pytest.raises(RenderError) as exc:
        render(workflow, tmp_path / "graph.jpg")
    assert isinstance(exc.value, StepgraphError)
    for suffix in (".mmd", ".svg", ".png", ".pdf", ".dot", ".gv"):
        assert suffix in str(exc.value)
    assert not (tmp_path / "graph.jpg").exists()


def test_render_raises_graphviz_not_found_when_dot_is_missing(workflow: Workflow, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GraphvizNotFoundError) as exc:
        render(workflow, tmp_path / "graph.svg")
    assert isinstance(exc.value, StepgraphError)
    assert "apt-get install graphviz" in str(exc.value) and "brew install graphviz" in str(exc.value)
    assert ".mmd" in str(exc.value)
    render(workflow, tmp_path / "graph.mmd")  # Mermaid needs no Graphviz


@needs_dot
def test_render_svg_contains_every_step_id_and_clusters(workflow: Workflow, tmp_path: Path) -> None:
    svg = render(workflow, tmp_path / "graph.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith(("<?xml", "<svg", "<!--"))
    for step in workflow.steps:
        assert f">{step.step_id}</text>" in svg, step.step_id
    assert svg.count('class="cluster"') == 3
    assert "#quot;" not in svg and "&quot;urgent [p1]&quot;" in svg


@needs_dot
def test_render_png_starts_with_png_magic_bytes(workflow: Workflow, tmp_path: Path) -> None:
    data = render(workflow, tmp_path / "graph.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")


@needs_dot
def test_render_pdf_starts_with_pdf_header(workflow: Workflow, tmp_path: Path) -> None:
    assert render(workflow, tmp_path / "graph.pdf").read_bytes().startswith(b"%PDF")


# ----------------------------------------------------------------------------- CLI


def test_cli_render_writes_mermaid_and_prints_path(tmp_path: Path) -> None:
    file = write_project(tmp_path, cli_document())
    output = tmp_path / "graph.mmd"
    result = CliRunner().invoke(app, ["render", str(file), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert str(output) in result.stdout
    assert "s_each -.->|\"each item\"| s_pause" in output.read_text(encoding="utf-8")


@needs_dot
def test_cli_render_json_reports_file_output_and_format(tmp_path: Path) -> None:
    file = write_project(tmp_path, cli_document())
    output = tmp_path / "graph.svg"
    result = CliRunner().invoke(app, ["render", str(file), "--output", str(output), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"file": str(file), "output": str(output), "format": "svg"}
    assert ">pause</text>" in output.read_text(encoding="utf-8")


def test_cli_render_exits_one_for_invalid_workflow(tmp_path: Path) -> None:
    document = cli_document()
    document["steps"][0]["next_steps"] = ["missing"]
    file = write_project(tmp_path, document)
    output = tmp_path / "graph.mmd"
    result = CliRunner().invoke(app, ["render", str(file), "-o", str(output), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["file"] == str(file)
    assert any("missing" in issue["message"] for issue in report["issues"])
    assert not output.exists()


def test_cli_render_exits_one_for_unknown_suffix(tmp_path: Path) -> None:
    file = write_project(tmp_path, cli_document())
    result = CliRunner().invoke(app, ["render", str(file), "-o", str(tmp_path / "graph.txt")])
    assert result.exit_code == 1
    assert ".mmd" in result.output
