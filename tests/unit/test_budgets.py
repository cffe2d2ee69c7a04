"""Budgets checked before deploy (SPEC §13): definition size, history events, cost; variable names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgraph import WorkflowValidationError, compile_workflow, load_workflow, parse_workflow
from stepgraph.cli import app
from stepgraph.compiler import MAX_DEFINITION_BYTES
from stepgraph.compiler.document import index_variable, item_variable, step_variable
from stepgraph.cost import Assumptions, estimate
from stepgraph.lint import INLINE_ITEMS_ASSUMED, workflow_warnings

ROOT = Path(__file__).resolve().parents[2]


def chain(n: int, *, text: str = "") -> dict:
    steps = [{"step_id": "trigger", "step_type": "trigger", "next_steps": ["t1"]}]
    for i in range(1, n + 1):
        step = {"step_id": f"t{i}", "step_type": "data_transform", "parameters": {"output": {"n": i, "text": text}}}
        if i < n:
            step["next_steps"] = [f"t{i + 1}"]
        steps.append(step)
    return {"name": "chain", "steps": steps}


def test_compile_refuses_a_definition_over_the_step_functions_limit() -> None:
    # GIVEN 2,000 transforms of ~600 bytes each (over 1 MiB of ASL)
    workflow = parse_workflow(chain(2000, text="x" * 600)).workflow
    # WHEN it is compiled THEN a VALIDATION_ERROR names the size and the limit
    with pytest.raises(WorkflowValidationError, match=f"over Step Functions' limit of {MAX_DEFINITION_BYTES:,} bytes"):
        compile_workflow(workflow)


def test_validate_command_reports_an_oversized_definition(tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    path = tmp_path / "workflows" / "chain.json"
    path.write_text(json.dumps(chain(2000, text="x" * 600)), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "1,048,576 bytes" in result.output


def test_three_thousand_trivial_steps_stay_well_under_the_limit() -> None:
    size = len(compile_workflow(parse_workflow(chain(3000)).workflow).to_json(indent=None).encode())
    assert size < MAX_DEFINITION_BYTES / 2


def heavy_loop(mode: str = "inline") -> dict:
    """A loop whose body holds 30 tool calls: about 160 history events per item."""
    body = [{"step_id": f"c{i}", "step_type": "tool_call", "parameters": {"tool": "lookup"},
             **({"next_steps": [f"c{i + 1}"]} if i < 29 else {})} for i in range(30)]
    return {"name": "heavy", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["each"]},
        {"step_id": "each", "step_type": "loop", "parameters": {"items": "{{input.xs}}", "body": "c0", "mode": mode}},
        *body]}


def test_inline_loop_warns_how_many_items_fit_in_the_history() -> None:
    workflow = parse_workflow(heavy_loop()).workflow
    [warning] = [w for w in workflow_warnings(workflow) if w.step_id == "each"]
    assert "mode" in warning.message and "distributed" in warning.message
    fits = int(re.search(r"about ([\d,]+) items fit", warning.message).group(1).replace(",", ""))
    assert fits < INLINE_ITEMS_ASSUMED
    # the costliest path with that many items stays within 25,000 events, one more item does not
    definition = compile_workflow(workflow).definition
    assert max(p.history_events for p in estimate(definition, assumptions=Assumptions(loop_items=fits)).paths) <= 25_000
    assert max(p.history_events for p in estimate(definition, assumptions=Assumptions(loop_items=fits + 1)).paths) > 25_000


def test_light_inline_loop_gets_no_history_warning() -> None:
    # order-digest: about 1,249 items fit, more than the 1,000 an inline loop is assumed to serve
    workflow = load_workflow(ROOT / "workflows" / "order-digest.json", tools=["lookup_order"], agents=["support_agent"])
    assert [w for w in workflow_warnings(workflow) if "history events" in w.message] == []


def test_distributed_loop_gets_no_history_warning() -> None:
    assert [w for w in workflow_warnings(parse_workflow(heavy_loop("distributed")).workflow) if "history" in w.message] == []


def test_cost_command_prints_transitions_invocations_and_a_price() -> None:
    result = CliRunner().invoke(app, ["cost", str(ROOT / "workflows" / "customer-support.json"), "--executions", "1000"])
    assert result.exit_code == 0, result.output
    assert "6 transitions" in result.output and "1 Lambda invocations" in result.output
    assert re.search(r"\$\d+\.\d{6} per execution", result.output) and "per 1,000 executions" in result.output


def test_cost_command_json_prices_each_branch_of_a_condition() -> None:
    result = CliRunner().invoke(app, ["cost", str(ROOT / "workflows" / "customer-support.json"), "--json", "-n", "10",
                                      "--agent-seconds", "0"])
    report = json.loads(result.output)
    completed = [p for p in report["paths"] if p["outcome"] == "completed"]
    assert sorted(p["decisions"][0] for p in completed) == ["needs_person → escalate", "needs_person → reply"]
    path = completed[0]
    # 6 transitions at $0.025 per 1,000, one Lambda request (no duration), one S3 PUT, one SNS publish
    expected = 6 * 0.025 / 1000 + 0.20 / 1e6 + 0.5 * 0.5 * 0.0000133334 * 0 + 0.005 / 1000 + 0.5 / 1e6
    assert path["price_per_execution_usd"] == pytest.approx(expected, rel=1e-9)
    assert path["price_usd"] == pytest.approx(10 * expected)


@pytest.mark.parametrize("ids", [("a-b", "a_b", "a__b", "a-_b", "a_-b", "a--b"), ("x" * 64, "-" * 64, "_" * 64, "-" + "_" * 63)])
def test_variable_names_are_distinct_valid_and_short(ids: tuple[str, ...]) -> None:
    names = [f(i) for i in ids for f in (step_variable, item_variable, index_variable)]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,79}", n) for n in names)
