"""Unit tests of ``stepgraph import elevaite``: elevAIte engine documents → stepgraph documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgraph.agents import discover_agents
from stepgraph.cli import app
from stepgraph.importers import ElevaiteImportError, convert_elevaite, import_elevaite_files
from stepgraph.importers.elevaite_expr import schedule_parameters
from stepgraph.loader import parse_workflow
from stepgraph.validation import validate_workflow

ELEVAITE = Path(__file__).resolve().parents[1] / "workflows" / "elevaite"
DOCUMENTS = sorted(ELEVAITE.glob("*.json"))
#: Tools the fixture documents call; the functional test registers stand-ins under these names.
STAND_IN_TOOLS = {"add_numbers", "publish_post", "fetch_metrics"}


def _steps(conversion) -> dict[str, dict]:
    return {s["step_id"]: s for s in conversion.workflow["steps"]}


def _issues(conversion) -> list:
    parsed = parse_workflow(conversion.workflow)
    return parsed.issues + validate_workflow(parsed.workflow, agents=set(conversion.agents), tools=STAND_IN_TOOLS,
                                             unreadable_step_ids=parsed.unreadable_step_ids)


def _doc(*steps: dict, name: str = "Doc") -> dict:
    return {"name": name, "steps": list(steps)}


@pytest.fixture(scope="module")
def conversions():
    return {c.name: c for c in import_elevaite_files(DOCUMENTS)}


# ------------------------------------------------------------------ whole documents


@pytest.mark.parametrize("name", ["ad-copy-transformer", "post-approval"])
def test_convert_document_matches_expected_workflow(conversions, name):
    expected = json.loads((ELEVAITE / "expected" / f"{name}.json").read_text(encoding="utf-8"))
    assert conversions[name].workflow == expected


def test_convert_fixture_set_covers_seven_documents(conversions):
    assert len(DOCUMENTS) == 7
    assert set(conversions) == {"ad-copy-transformer", "campaign-numbers", "post-approval", "weekday-metrics",
                                "sum-doubler", "sum-then-double", "docs-answer"}


def test_converted_documents_validate_with_their_agents_and_tools(conversions):
    for name, conversion in conversions.items():
        assert _issues(conversion) == [], name


def test_converted_subflow_document_validates(conversions):
    assert _issues(conversions["sum-then-double"]) == []


def test_convert_reports_only_the_rag_document_as_incomplete(conversions):
    incomplete = {name for name, c in conversions.items() if not c.complete}
    assert incomplete == {"docs-answer"}
    warnings = [(w.step_id, w.construct) for w in conversions["docs-answer"].warnings]
    assert warnings == [("search_docs", "step_type vector_search"), ("answer", "critical: false")]
    assert "tools/" in conversions["docs-answer"].warnings[0].action


# ------------------------------------------------------------------ structure


def test_convert_adds_a_trigger_when_the_document_has_none(conversions):
    steps = conversions["ad-copy-transformer"].workflow["steps"]
    assert steps[0] == {"step_id": "trigger", "step_type": "trigger", "parameters": {"kind": "api"}, "next_steps": ["product_specs"]}
    assert [s["step_type"] for s in steps].count("trigger") == 1


def test_convert_several_entry_steps_run_as_a_parallel_after_the_trigger(conversions):
    steps = _steps(conversions["campaign-numbers"])
    assert steps["trigger"]["next_steps"] == ["fan_out"]
    assert steps["fan_out"]["step_type"] == "parallel"
    assert steps["fan_out"]["next_steps"] == ["north_region", "south_region"]
    assert steps["fan_out"]["parameters"]["join"] == "fan_out_2"


def test_convert_reads_parallel_branch_outputs_through_the_parallel(conversions):
    steps = _steps(conversions["campaign-numbers"])
    assert steps["both_regions"]["parameters"]["output"]["data"] == {  # keyed by elevAIte's ids, as elevAIte's merge does
        "north": "{{steps.fan_out.output.north_region}}", "south": "{{steps.fan_out.output.south_region}}"}
    assert steps["tally"]["parameters"]["output"]["result"]["merged"] == "{{steps.fan_out_2.output.combine_regions.result.data}}"
    assert steps["add_clicks"]["parameters"]["arguments"] == {
        "a": "{{steps.tally.output.result.north.north_clicks}}", "b": "{{steps.fan_out_2.output.combine_regions.result.data.south_clicks}}"}


def test_convert_tool_result_path_reads_the_tool_value(conversions):
    steps = _steps(conversions["sum-then-double"])
    assert steps["double_it"]["parameters"]["input"] == {"sum": "{{steps.add.output}}"}


def test_convert_subflow_names_the_imported_child_workflow(conversions):
    step = _steps(conversions["sum-then-double"])["double_it"]
    assert step["step_type"] == "subflow"
    assert step["parameters"]["workflow"] == "sum-doubler"
    assert conversions["sum-then-double"].subflows == ["sum-doubler"]


def test_convert_approval_routes_decisions_to_next_and_else_steps(conversions):
    approval = _steps(conversions["post-approval"])["approve_post"]
    assert approval["parameters"] == {"approvers": ["marketing-lead"], "message": "Publish this post? {{steps.draft_post.output.response}}",
                                      "timeout_hours": 2.0}
    assert approval["next_steps"] == ["publish"]
    assert approval["else_steps"] == ["archive_draft"]


def test_convert_gated_step_runs_behind_a_condition(conversions):
    steps = _steps(conversions["weekday-metrics"])
    assert steps["if_alert_writer"]["parameters"]["condition"] == (
        "(({{steps.fetch_metrics.output.clicks}} > 100) and ({{steps.fetch_metrics.output.campaign}} == 'spring'))")
    assert steps["if_alert_writer"]["next_steps"] == ["alert_writer"]
    assert steps["alert_writer"]["parameters"]["payload"]["query"] == "Clicks today: {{steps.fetch_metrics.output.clicks}}"


def test_convert_condition_on_denied_compares_with_rejected():
    conversion = convert_elevaite(_doc(
        {"step_id": "ok", "step_type": "human_approval", "parameters": {"prompt": "?"}},
        {"step_id": "a", "step_type": "data_input", "dependencies": ["ok"], "config": {"data": {}}},
        {"step_id": "late", "step_type": "data_input", "dependencies": ["a"], "config": {"data": {}},
         "conditions": "ok.output.decision != 'denied'"},
    ))
    assert _steps(conversion)["if_late"]["parameters"]["condition"] == "{{steps.ok.output.decision}} != 'rejected'"


def test_convert_unsupported_operator_is_reported_with_its_step():
    conversion = convert_elevaite(_doc(
        {"step_id": "a", "step_type": "data_input", "config": {"data": {"t": "x"}}},
        {"step_id": "b", "step_type": "data_input", "dependencies": ["a"], "config": {"data": {}},
         "conditions": {"left_operand": "a.data.t", "operator": "regex_match", "right_operand": "^x"}},
    ))
    assert [(w.step_id, w.construct) for w in conversion.warnings] == [("b", "conditions")]
    assert _steps(conversion)["if_b"]["parameters"]["condition"] == "true"


def test_convert_display_names_become_unique_ids():
    conversion = convert_elevaite(_doc(
        {"step_id": "x1", "step_type": "data_input", "name": "Load Data!", "config": {"data": {}}},
        {"step_id": "x2", "step_type": "data_input", "name": "Load Data?", "dependencies": ["x1"], "config": {"data": {}}},
    ))
    assert [s["step_id"] for s in conversion.workflow["steps"]] == ["trigger", "load_data", "load_data_2"]
    assert conversion.workflow["steps"][1]["name"] == "Load Data!"


@pytest.mark.parametrize(("raw", "expected"), [({}, 4), ({"max_retries": 2}, 3), ({"max_retries": 0}, None),
                                               ({"max_retries": 5, "retry_strategy": "none"}, None)])
def test_convert_max_retries_become_attempts(raw, expected):
    conversion = convert_elevaite(_doc({"step_id": "t", "step_type": "tool_execution", "config": {"tool_name": "add_numbers"}, **raw}))
    retry = _steps(conversion)["t"].get("retry")
    assert (retry or {}).get("max_attempts") == expected


def test_convert_dependency_cycle_is_an_error_naming_the_steps():
    with pytest.raises(ElevaiteImportError, match=r"cycle among \['a', 'b'\]"):
        convert_elevaite(_doc({"step_id": "a", "step_type": "data_input", "dependencies": ["b"]},
                              {"step_id": "b", "step_type": "data_input", "dependencies": ["a"]}))


def test_convert_second_trigger_is_reported():
    conversion = convert_elevaite(_doc({"step_id": "t1", "step_type": "trigger", "parameters": {"kind": "chat"}},
                                       {"step_id": "t2", "step_type": "trigger", "parameters": {"kind": "webhook"}}))
    assert [(w.step_id, w.construct) for w in conversion.warnings] == [("t2", "trigger")]


def test_convert_unresolvable_param_mapping_is_reported():
    conversion = convert_elevaite(_doc(
        {"step_id": "t", "step_type": "tool_execution", "config": {"tool_name": "add_numbers", "param_mapping": {"a": "nowhere.x"},
                                                                   "static_params": {"a": 1}}}))
    assert [(w.step_id, w.construct) for w in conversion.warnings] == [("t", "param_mapping")]
    assert _steps(conversion)["t"]["parameters"]["arguments"] == {"a": 1}


# ------------------------------------------------------------------ schedules


@pytest.mark.parametrize(("schedule", "params", "problems"), [
    ({"mode": "cron", "cron": "0 9 * * 1-5"}, {"kind": "schedule", "cron": "cron(0 9 ? * 2-6 *)"}, 0),
    ({"mode": "cron", "cron": "30 6 1 * *", "timezone": "Asia/Tokyo"}, {"kind": "schedule", "timezone": "Asia/Tokyo", "cron": "cron(30 6 1 * ? *)"}, 0),
    ({"mode": "cron", "cron": "0 0 * * 0 0"}, {"kind": "schedule", "cron": "cron(0 0 ? * 1 *)"}, 0),
    ({"mode": "cron", "cron": "* * * * * */10"}, {"kind": "schedule", "cron": "cron(* * * * ? *)"}, 1),
    ({"mode": "interval", "interval_seconds": 3600}, {"kind": "schedule", "rate": "rate(1 hour)"}, 0),
    ({"mode": "interval", "interval_seconds": 90}, {"kind": "schedule", "rate": "rate(2 minutes)"}, 1),
])
def test_schedule_becomes_eventbridge_expression(schedule, params, problems):
    converted, found = schedule_parameters(schedule)
    assert converted == params
    assert len(found) == problems


# ------------------------------------------------------------------ command line


def test_cli_import_writes_workflow_and_agent_skeleton_and_exits_0(tmp_path):
    result = CliRunner().invoke(app, ["import", "elevaite", str(ELEVAITE / "ad_copy.json"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "validates" in result.output
    written = json.loads((tmp_path / "workflows" / "ad-copy-transformer.json").read_text(encoding="utf-8"))
    assert written == json.loads((ELEVAITE / "expected" / "ad-copy-transformer.json").read_text(encoding="utf-8"))
    agents = discover_agents(tmp_path / "agents")
    assert set(agents) == {"adcopywriter"}
    main = (tmp_path / "agents" / "adcopywriter" / "main.py").read_text(encoding="utf-8")
    assert "BedrockAgentCoreApp" in main and "TODO" in main and "You are an expert copywriter." in main


def test_cli_import_reports_unconverted_constructs_and_exits_1(tmp_path):
    result = CliRunner().invoke(app, ["import", "elevaite", str(ELEVAITE / "rag_unconverted.json"), "-o", str(tmp_path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["converted"] is False
    assert [w["step_id"] for w in report["workflows"][0]["warnings"]] == ["search_docs", "answer"]


def test_cli_import_unreadable_document_exits_1(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "steps": []}), encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "elevaite", str(bad), "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "non-empty list" in result.output


def test_cli_import_keeps_an_existing_agent_folder(tmp_path):
    (tmp_path / "agents" / "adcopywriter").mkdir(parents=True)
    (tmp_path / "agents" / "adcopywriter" / "main.py").write_text("# mine\n", encoding="utf-8")
    CliRunner().invoke(app, ["import", "elevaite", str(ELEVAITE / "ad_copy.json"), "-o", str(tmp_path)])
    assert (tmp_path / "agents" / "adcopywriter" / "main.py").read_text(encoding="utf-8") == "# mine\n"
