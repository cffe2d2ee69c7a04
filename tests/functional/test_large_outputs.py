"""Step outputs travel in variables: 20 outputs of 250 KiB (5 MiB) complete, and small fields of
a large output stay readable by native states (issue 13; docs/design.md "The state document")."""

from __future__ import annotations

import json
from pathlib import Path

from statelint.config import Config
from statelint.linter import Linter

from stepgraph import compile_workflow, load_workflow

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "tests" / "workflows" / "large-outputs.json"
#: 250 KiB of data per step: 20 of them hold 5,120,000 bytes at once, under the 10 MiB of variables.
SIZE = 250 * 1024


def _document() -> dict:
    return json.loads(WORKFLOW.read_text(encoding="utf-8"))


def test_large_outputs_definition_passes_statelint() -> None:
    definition = compile_workflow(load_workflow(WORKFLOW, tools=["sized_payload"])).definition
    assert Linter.validate(definition, Config()) == []


def test_twenty_outputs_of_250_kib_complete_and_a_small_field_of_the_last_is_read(make_engine) -> None:
    # GIVEN 20 tool steps returning {"tag": "t<i>", "data": <250 KiB>}, then a condition and a
    # transform reading every tag (so all 20 outputs are held at once)
    engine = make_engine(_document())
    # WHEN it runs locally
    result = engine.run("large-outputs", {"size_bytes": SIZE})
    # THEN it completes (no States.DataLimitExceeded), the condition took the true branch and the
    # transform saw every small field
    assert result.status == "completed", result.record["error"]
    assert result.record["result"] == {"ok": True, "last_tag": "t19", "tags": [f"t{i}" for i in range(20)]}
    outputs = {e.name: e.detail["output"] for e in result.events if e.kind == "step_complete"}
    assert outputs["b19"]["tag"] == "t19" and len(outputs["b19"]["data"]) == SIZE  # inline, not offloaded
    assert outputs["check"] == outputs["b19"]  # a condition's output is its input


def test_reading_a_field_of_an_offloaded_output_fails_clearly(make_engine) -> None:
    # GIVEN outputs over the offload threshold (252 KiB): the tool Lambda moves them to S3
    engine = make_engine(_document())
    # WHEN the condition reads a field inside the last one
    result = engine.run("large-outputs", {"size_bytes": 300 * 1024})
    # THEN the run fails, naming the step and the reason, instead of reading null
    assert result.status == "failed"
    error = result.record["error"]
    assert error["step"] == "check"
    assert "steps.b19.output.tag reads into the output of step 'b19', which is held in S3" in error["message"]
