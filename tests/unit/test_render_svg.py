"""The console's graph picture: an SVG laid out in Python, every step addressable by its id, no Graphviz."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stepgraph import load_workflow
from stepgraph.render_svg import NODE_HEIGHT, NODE_WIDTH, to_svg

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))


def _boxes(root: ET.Element) -> dict[str, tuple[float, float]]:
    boxes = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            rect = g.find(f"{SVG}rect")
            boxes[g.get("data-step-id") or g.get("id")] = (float(rect.get("x")), float(rect.get("y")))
    return boxes


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_to_svg_draws_every_step_once_without_overlapping_boxes(path):
    workflow = load_workflow(path)
    root = ET.fromstring(to_svg(workflow))
    boxes = _boxes(root)
    assert {s.step_id for s in workflow.steps} <= set(boxes)
    width, height = float(root.get("width")), float(root.get("height"))
    placed = list(boxes.values())
    for i, (x, y) in enumerate(placed):
        assert 0 <= x and x + NODE_WIDTH <= width and 0 <= y and y + NODE_HEIGHT <= height
        for ox, oy in placed[i + 1:]:
            assert abs(x - ox) >= NODE_WIDTH or abs(y - oy) >= NODE_HEIGHT, "two boxes overlap"


def test_to_svg_places_each_step_below_the_steps_before_it():
    workflow = load_workflow(ROOT / "workflows" / "refund-approval.json")
    boxes = _boxes(ET.fromstring(to_svg(workflow)))
    for step in workflow.steps:
        for target in (*(step.next_steps or ()), *(step.else_steps or ())):
            assert boxes[target][1] > boxes[step.step_id][1], (step.step_id, target)


def test_to_svg_labels_branches_and_escapes_text():
    from stepgraph import parse_workflow

    workflow = parse_workflow({"name": "a<b", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["check"]},
        {"step_id": "check", "step_type": "condition", "parameters": {"condition": "{{input.x}} < 3 and 'a&b' == 'a&b'"},
         "next_steps": ["yes"], "else_steps": ["no"]},
        {"step_id": "yes", "step_type": "data_transform", "parameters": {"output": {"ok": True}}},
        {"step_id": "no", "step_type": "data_transform", "parameters": {"output": {"ok": False}}}]}).workflow
    text = to_svg(workflow)
    root = ET.fromstring(text)  # well-formed despite <, & in names and conditions
    labels = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "edge-label" for t in g.iter(f"{SVG}text")]
    assert "true" in labels and "false" in labels
    assert "a&lt;b" in text
