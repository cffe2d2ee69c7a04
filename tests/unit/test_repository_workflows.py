"""Every workflow shipped in workflows/ validates, compiles, and passes statelint (SPEC §12)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stepgraph import compile_workflow, load_project

ROOT = Path(__file__).resolve().parents[2]
PROJECT = load_project(ROOT)
NATIVE = {"condition": "Choice", "loop": "Map", "parallel": "Parallel", "data_transform": "Pass", "delay": "Wait"}


def _states(definition: dict):
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"])


@pytest.mark.parametrize("name", sorted(PROJECT.workflows))
def test_repository_workflow_compiles_to_native_states_named_after_steps(name):
    workflow = PROJECT.workflows[name]
    states = dict(_states(compile_workflow(workflow).definition))
    for step in workflow.steps:
        assert step.step_id in states, f"state {step.step_id} missing"
        expected = NATIVE.get(step.step_type.value)
        if expected:
            assert states[step.step_id]["Type"] == expected
            assert "Resource" not in states[step.step_id]


@pytest.mark.parametrize("name", sorted(PROJECT.workflows))
def test_repository_workflow_passes_statelint(name, tmp_path):
    statelint = shutil.which("statelint") or str(Path(sys.executable).with_name("statelint"))
    path = tmp_path / f"{name}.asl.json"
    path.write_text(json.dumps(compile_workflow(PROJECT.workflows[name]).definition))
    run = subprocess.run([statelint, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("name", sorted(PROJECT.workflows))
def test_repository_workflow_has_an_example_input(name):
    example = ROOT / "examples" / f"{name}.input.json"
    assert example.is_file(), f"README promises examples/{name}.input.json"
    assert isinstance(json.loads(example.read_text()), dict)
