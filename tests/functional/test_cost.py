"""``stepgraph cost`` predicts what the local engine's execution history counts (SPEC §13).

For every example workflow (input from ``examples/``) the run's history is counted — states
entered (``*StateEntered`` events: transitions) and Lambda tasks scheduled (``TaskScheduled``
events of resource type ``lambda``: invocations) — and compared with the predicted path whose
states are exactly the states the run entered.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import threading
from pathlib import Path

import pytest

from stepgraph import compile_workflow, load_project
from stepgraph.cost import Assumptions, estimate
from stepgraph.local import LocalEngine

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted(p.stem for p in (ROOT / "workflows").glob("*.json"))


@pytest.fixture(scope="module")
def payments_url():
    """examples/payments_api.py on a free loopback port (refund-approval calls it)."""
    spec = importlib.util.spec_from_file_location("payments_api_cost", ROOT / "examples" / "payments_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.serve(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def cost_engine(tmp_path_factory):
    with LocalEngine(load_project(ROOT), results_dir=tmp_path_factory.mktemp("results"), approval_decision="approved") as engine:
        yield engine


def _history(engine: LocalEngine, arn: str) -> list[dict]:
    sfn = engine.client("stepfunctions")
    page = sfn.get_execution_history(executionArn=arn, maxResults=1000)
    events = list(page["events"])
    while page.get("nextToken"):
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, nextToken=page["nextToken"])
        events += page["events"]
    return events


@pytest.mark.parametrize("name", WORKFLOWS)
def test_predicted_cost_matches_the_local_history(name, cost_engine, payments_url):
    # GIVEN an example workflow and its example input
    execution_input = json.loads((ROOT / "examples" / f"{name}.input.json").read_text(encoding="utf-8"))
    if name == "refund-approval":
        execution_input = copy.deepcopy(execution_input)
        execution_input["context"]["payments_url"] = payments_url
    # WHEN it runs locally
    result = cost_engine.run(name, execution_input, follow_chain=False)
    events = _history(cost_engine, result.execution_arn)
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    lambdas = [e for e in events if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "lambda"]
    items = [e["mapStateStartedEventDetails"]["length"] for e in events if e["type"] == "MapStateStarted"]
    assert len(set(items)) <= 1  # the examples' loops run one size
    # THEN the predicted path through exactly those states counts the same transitions and invocations
    report = estimate(compile_workflow(cost_engine.project.workflow(name)).definition, workflow=name,
                      assumptions=Assumptions(loop_items=items[0] if items else 0))
    [path] = [p for p in report.paths if p.states == set(entered)]
    assert (path.transitions, path.lambda_invocations) == (len(entered), len(lambdas))
    assert path.outcome == result.record["status"]
