"""Converted elevAIte documents run on the local engine to ``completed``: generated agent skeletons, stand-in tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest

import tools
from stepgraph import load_project
from stepgraph.importers import import_elevaite_files
from stepgraph.local import LocalEngine

ROOT = Path(__file__).resolve().parents[2]
ELEVAITE = ROOT / "tests" / "workflows" / "elevaite"
CHAT = {"trigger": {"kind": "chat", "current_message": "the spring sale"}, "session_id": "elevaite-import-session-0001"}


@pytest.fixture(scope="module")
def stand_in_tools() -> Iterator[list]:
    """``add_numbers``, ``publish_post`` and ``fetch_metrics`` registered for this module, removed afterwards."""
    before = set(tools.REGISTRY)
    published: list = []

    @tools.tool(description="Add two numbers (elevAIte's basic tool)")
    def add_numbers(a: float, b: float) -> float:
        return a + b

    @tools.tool(description="Publish a post (stand-in)")
    def publish_post(text: str, channel: str) -> dict:
        published.append({"text": text, "channel": channel})
        return {"url": f"https://example.test/{channel}/{len(published)}"}

    @tools.tool(description="Campaign metrics (stand-in)")
    def fetch_metrics(campaign: str) -> dict:
        return {"campaign": campaign, "clicks": 150}

    yield published
    for name in set(tools.REGISTRY) - before:
        del tools.REGISTRY[name]


@pytest.fixture(scope="module")
def converted(tmp_path_factory, stand_in_tools):
    """A project folder holding the converted documents and the agent skeletons the converter wrote."""
    root = tmp_path_factory.mktemp("elevaite-project")
    out = tmp_path_factory.mktemp("elevaite-out")
    conversions = import_elevaite_files(sorted(ELEVAITE.glob("*.json")), out)
    (root / "workflows").mkdir()
    shutil.copytree(out / "agents", root / "agents")
    for name in ("lambdas", "tools"):
        (root / name).symlink_to(ROOT / name)
    runnable = []
    for conversion in conversions:
        shutil.copy(out / "workflows" / f"{conversion.name}.json", root / "workflows")
        runnable.append(conversion.name)
    return root, runnable


@pytest.fixture(scope="module")
def engine(converted, tmp_path_factory) -> Iterator[LocalEngine]:
    root, _ = converted
    with LocalEngine(load_project(root), results_dir=tmp_path_factory.mktemp("results"), approval_decision="approved") as running:
        yield running


def test_every_converted_document_runs_to_completed(engine, converted):
    _, runnable = converted
    inputs = {"sum-doubler": {"sum": 5}}  # the child workflow, run on its own: its input is what a parent maps
    statuses = {name: engine.run(name, inputs.get(name, CHAT)).status for name in runnable}
    assert statuses == {name: "completed" for name in runnable}
    assert len(runnable) >= 6


def test_converted_agent_workflow_reaches_the_generated_agent(engine):
    result = engine.run("ad-copy-transformer", {})
    assert result.status == "completed"
    assert result.record["result"]["data"]["response"] == "[AdCopyWriter stand-in] Pro 5 camera, 2K video, colour night vision"
    assert result.record["result"]["label"] == "Ad Copy Result"


def test_converted_fan_out_merges_branch_outputs(engine):
    result = engine.run("campaign-numbers", {})
    assert result.status == "completed"
    assert result.record["result"]["data"]["add"] == 200  # 120 north clicks (via the merge step) + 80 south (via data_merge)
    assert result.record["result"]["data"]["count"]["result"] == {"count": 2}


def test_converted_approval_runs_the_approved_route(engine, stand_in_tools):
    result = engine.run("post-approval", CHAT)
    assert result.status == "completed"
    assert result.record["result"]["data"] == {"url": f"https://example.test/blog/{len(stand_in_tools)}"}
    assert stand_in_tools[-1]["text"] == "[Post Writer stand-in] Write a short post about the spring sale"


def test_converted_rejected_approval_runs_the_denied_route(engine):
    engine.approval_decision = "rejected"
    try:
        result = engine.run("post-approval", CHAT)
    finally:
        engine.approval_decision = "approved"
    assert result.status == "completed"
    assert result.record["result"] == {"data": {"archived": True}, "input_type": "static", "success": True}


def test_converted_condition_runs_the_gated_agent(engine):
    result = engine.run("weekday-metrics", {})
    assert result.status == "completed"
    assert result.record["result"]["response"] == "[Alert Writer stand-in] Clicks today: 150"


def test_converted_subflow_runs_the_child_workflow(engine):
    result = engine.run("sum-then-double", {})
    assert result.status == "completed"
    assert json.dumps(result.record["result"]) == "10"
