"""Tests for stepgraph.deployment: stack outputs, the Nova Act CLI state file, invoking and logs.

AWS is moto's in-process emulation (CloudFormation, Step Functions, S3, CloudWatch Logs);
``bedrock-agentcore``'s data plane, which moto does not serve, goes through botocore's
``Stubber`` (validated against the real service model).
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from stepgraph.agents import discover_agents
from stepgraph.deployment import (
    ActStateError,
    ActStateWarning,
    AgentInvocationError,
    Deployment,
    ExecutionWaitTimeoutError,
    LogGroupNotFoundError,
    NotDeployedError,
    UnknownAgentError,
    UnknownTargetError,
    UnknownWorkflowError,
    _pascal,
    invoke_agent_runtime,
    invoke_workflow,
    load_deployment,
    recent_logs,
    write_act_state,
)
from stepgraph.project import Project

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
NOVA_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/getting_started-AbCdEf1234"
SUPPORT_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/support_agent-Zy98Xw7654"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stepgraph-test"
BUCKET = "stepgraph-results-test"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:stepgraph-results"
APPROVALS_TABLE = "stepgraph-approvals-test"
APPROVALS_TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:stepgraph-approvals"
PASS_DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


# ----------------------------------------------------------------------------- fixtures and helpers


def write_agent(root: Path, agent_id: str, settings: dict | None = None) -> Path:
    folder = root / "agents" / agent_id
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM --platform=linux/arm64 python:3.12-slim\n")
    (folder / "main.py").write_text("# agent\n")
    if settings is not None:
        (folder / "agent.json").write_text(json.dumps(settings))
    return folder


@pytest.fixture
def project(tmp_path) -> Project:
    """A project with a Nova Act agent (getting_started) and a python agent (support_agent)."""
    root = tmp_path / "project"
    write_agent(root, "getting_started", {"kind": "nova_act", "nova_act": {"workflow_definition_name": "getting-started-workflow"}})
    write_agent(root, "support_agent", {"kind": "python"})
    return Project(root=root, workflows=MappingProxyType({}), agents=MappingProxyType(discover_agents(root / "agents")))


def create_stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name, TemplateBody=json.dumps(template))


def state_machine(name: str, definition: str = PASS_DEFINITION, log_group_arn: str | None = None) -> str:
    kwargs = {}
    if log_group_arn:
        kwargs["loggingConfiguration"] = {"level": "ALL", "includeExecutionData": True,
                                          "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}]}
    client = boto3.client("stepfunctions", region_name=REGION)
    return client.create_state_machine(name=name, definition=definition, roleArn=ROLE_ARN, **kwargs)["stateMachineArn"]


def deploy_stacks(prefix: str = "Stepgraph", *, agents_extra: dict[str, str] | None = None,
                  workflows: dict[str, str] | None = None, approvals: bool = True) -> dict[str, str]:
    """Create the three stacks with outputs shaped like the real ones; return the workflow ARNs."""
    workflows = workflows if workflows is not None else {"customer-support": state_machine(f"{prefix}-customer-support")}
    create_stack(f"{prefix}Results", {"ResultsBucketName": BUCKET, "ResultsTopicArn": TOPIC_ARN})
    create_stack(f"{prefix}Agents", {"AgentRuntimeArnGettingStarted": NOVA_ARN, "AgentRuntimeArnSupportAgent": SUPPORT_ARN,
                                     **(agents_extra or {})})
    outputs = {f"StateMachineArn{_pascal(name)}": arn for name, arn in workflows.items()}
    outputs["InvokeAgentFunctionArn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:invoke"
    if approvals:
        outputs.update(ApprovalsTableName=APPROVALS_TABLE, ApprovalsTopicArn=APPROVALS_TOPIC_ARN)
    create_stack(f"{prefix}Workflows", outputs)
    return workflows


def make_deployment(**changes) -> Deployment:
    values = dict(state_machines={}, runtimes={"getting_started": NOVA_ARN, "support_agent": SUPPORT_ARN},
                  results_bucket=BUCKET, results_topic_arn=TOPIC_ARN, approvals_table=APPROVALS_TABLE,
                  approvals_topic_arn=APPROVALS_TOPIC_ARN, account=ACCOUNT, region=REGION)
    values.update(changes)
    return Deployment(**values)


def get_agentcore_runtime_arn(workflow_name, region="us-east-1"):
    """The seed's reader of the Nova Act CLI state file, verbatim."""
    account = boto3.client("sts").get_caller_identity()["Account"]
    path = Path.home() / ".act_cli" / "state" / account / region / "workflows.json"
    state = json.loads(path.read_text())
    return state["workflows"][workflow_name]["deployments"]["agentcore"]["deployment_arn"]


# ----------------------------------------------------------------------------- load_deployment


def test_load_deployment_maps_outputs_to_names(aws, project):
    arns = deploy_stacks(workflows={"customer-support": state_machine("Stepgraph-customer-support"),
                                    "order_digest": state_machine("Stepgraph-order_digest")})

    deployment = load_deployment()

    assert dict(deployment.state_machines) == arns
    assert dict(deployment.runtimes) == {"getting_started": NOVA_ARN, "support_agent": SUPPORT_ARN}
    assert (deployment.results_bucket, deployment.results_topic_arn) == (BUCKET, TOPIC_ARN)
    assert (deployment.approvals_table, deployment.approvals_topic_arn) == (APPROVALS_TABLE, APPROVALS_TOPIC_ARN)
    assert (deployment.account, deployment.region, deployment.prefix) == (ACCOUNT, REGION, "Stepgraph")
    assert dict(deployment.workflow_definition_arns) == {}
    assert deployment.to_dict()["runtimes"]["support_agent"] == SUPPORT_ARN


def test_load_deployment_reads_a_custom_prefix_and_optional_outputs(aws, project):
    definition_arn = f"arn:aws:nova-act:{REGION}:{ACCOUNT}:workflow-definition/getting-started-workflow"
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/demo-getting-started:3f2a9c"
    deploy_stacks("Demo", workflows={"daily-report": state_machine("Demo-daily-report")}, approvals=False,
                  agents_extra={"WorkflowDefinitionArnGettingStarted": definition_arn, "ImageUriGettingStarted": image})

    deployment = load_deployment("Demo", project=project)

    assert list(deployment.state_machines) == ["daily-report"]
    assert deployment.approvals_table is None
    assert dict(deployment.workflow_definition_arns) == {"getting_started": definition_arn}
    assert dict(deployment.image_uris) == {"getting_started": image}
    assert dict(deployment.image_tags) == {"getting_started": "3f2a9c"}


def test_load_deployment_uses_project_names_when_the_arn_does_not_tell(aws):
    # A state machine renamed by hand: its name does not start with the prefix.
    arn = state_machine("hand-made-name")
    deploy_stacks(workflows={"order_digest": arn})
    project = SimpleNamespace(workflows={"order_digest": None}, agents={})

    assert dict(load_deployment(project=project).state_machines) == {"order_digest": arn}


def test_load_deployment_without_the_stacks_raises_not_deployed(aws):
    create_stack("StepgraphResults", {"ResultsBucketName": BUCKET, "ResultsTopicArn": TOPIC_ARN})
    create_stack("StepgraphAgents", {})

    with pytest.raises(NotDeployedError) as info:
        load_deployment()

    assert str(info.value).startswith("stack StepgraphWorkflows not found in us-east-1: run `npx cdk deploy --all` first")
    assert info.value.stacks == ("StepgraphWorkflows",)


def test_deployment_unknown_names_list_what_is_deployed():
    deployment = make_deployment(state_machines={"customer-support": "arn:aws:states:us-east-1:1:stateMachine:x"})

    with pytest.raises(UnknownWorkflowError, match=r"no deployed workflow 'nope'.*deployed: customer-support"):
        deployment.state_machine_arn("nope")
    with pytest.raises(UnknownAgentError, match=r"deployed: getting_started, support_agent"):
        deployment.runtime_arn("nope")


def test_pascal_matches_the_stacks_output_ids():
    spec = importlib.util.spec_from_file_location("stacks_naming_for_test", ROOT / "stacks" / "naming.py")
    naming = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(naming)
    for name in ("customer-support", "support_agent", "a_b-c9", "x", "getting-started-workflow"):
        assert _pascal(name) == naming.pascal(name)


# ----------------------------------------------------------------------------- write_act_state


def test_write_act_state_lets_the_seeds_reader_find_the_runtime(aws, project, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    deploy_stacks()

    path = write_act_state(load_deployment(project=project), project, now=datetime(2026, 1, 2, tzinfo=timezone.utc))

    assert path == home / ".act_cli" / "state" / ACCOUNT / REGION / "workflows.json"
    assert get_agentcore_runtime_arn("getting-started-workflow") == NOVA_ARN
    assert get_agentcore_runtime_arn("support-agent") == SUPPORT_ARN  # agent ids become names act accepts
    state = json.loads(path.read_text())
    assert state["version"] == "1.0"
    assert state["last_updated"] == "2026-01-02T00:00:00+00:00"
    entry = state["workflows"]["getting-started-workflow"]
    assert entry == {
        "name": "getting-started-workflow",
        "directory_path": str(project.root / "agents" / "getting_started"),
        "created_at": "2026-01-02T00:00:00+00:00",
        "workflow_definition_arn": None,
        # act's model requires strings: an image the outputs do not name is "" (with a warning), never null
        "deployments": {"agentcore": {"deployment_arn": NOVA_ARN, "image_uri": "", "image_tag": ""}},
        "metadata": {"source": "stepgraph", "agent_id": "getting_started", "kind": "nova_act", "stack_prefix": "Stepgraph"},
        "last_image_tag": "",
    }
    assert [p.name for p in path.parent.iterdir()] == ["workflows.json"]  # no temporary file left


def test_write_act_state_merges_with_existing_entries(project, tmp_path):
    deployment = make_deployment()
    path = tmp_path / ".act_cli" / "state" / ACCOUNT / REGION / "workflows.json"
    path.parent.mkdir(parents=True)
    other = {"name": "other-workflow", "directory_path": "/src/other", "created_at": "2025-01-01T00:00:00",
             "workflow_definition_arn": "arn:aws:nova-act:us-east-1:123456789012:workflow-definition/other-workflow",
             "deployments": {"agentcore": {"deployment_arn": "arn:other", "image_uri": "img", "image_tag": "t1"}},
             "metadata": {}, "last_image_tag": "t1"}
    old_nova = {**other, "name": "getting-started-workflow", "created_at": "2025-06-01T00:00:00",
                "deployments": {"agentcore": {"deployment_arn": "arn:old", "image_uri": None, "image_tag": None}}}
    path.write_text(json.dumps({"workflows": {"other-workflow": other, "getting-started-workflow": old_nova},
                                "last_updated": "2025-06-01T00:00:00", "version": "1.0"}))

    write_act_state(deployment, project, home=tmp_path, now=datetime(2026, 1, 2, tzinfo=timezone.utc))

    workflows = json.loads(path.read_text())["workflows"]
    assert workflows["other-workflow"] == other
    assert workflows["getting-started-workflow"]["deployments"]["agentcore"]["deployment_arn"] == NOVA_ARN
    assert workflows["getting-started-workflow"]["created_at"] == "2025-06-01T00:00:00"  # kept
    assert set(workflows) == {"other-workflow", "getting-started-workflow", "support-agent"}


def test_write_act_state_never_displaces_a_foreign_entry_with_a_python_agent(project, tmp_path):
    path = tmp_path / ".act_cli" / "state" / ACCOUNT / REGION / "workflows.json"
    path.parent.mkdir(parents=True)
    foreign = {"name": "support-agent", "deployments": {"agentcore": {"deployment_arn": "arn:act-cli"}}, "metadata": {}}
    path.write_text(json.dumps({"workflows": {"support-agent": foreign}, "last_updated": None, "version": "1.0"}))

    with pytest.warns(ActStateWarning, match="stepgraph did not write"):
        write_act_state(make_deployment(), project, home=tmp_path)

    workflows = json.loads(path.read_text())["workflows"]
    assert workflows["support-agent"] == foreign
    assert "getting-started-workflow" in workflows


def test_write_act_state_nova_act_only_and_undeployed_agents(project, tmp_path):
    deployment = make_deployment(runtimes={"getting_started": NOVA_ARN})

    with pytest.warns(ActStateWarning, match="'support_agent' has no deployed runtime"):
        path = write_act_state(deployment, project, home=tmp_path)
    assert set(json.loads(path.read_text())["workflows"]) == {"getting-started-workflow"}

    path.unlink()
    write_act_state(make_deployment(), project, home=tmp_path, include_python_agents=False)
    assert set(json.loads(path.read_text())["workflows"]) == {"getting-started-workflow"}


def test_write_act_state_leaves_a_malformed_file_untouched(project, tmp_path):
    path = tmp_path / ".act_cli" / "state" / ACCOUNT / REGION / "workflows.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")

    with pytest.raises(ActStateError, match="left untouched"):
        write_act_state(make_deployment(), project, home=tmp_path)
    assert path.read_text() == "{not json"


def _nova_act_state_model(tmp_path: Path):
    """nova-act's own ``RegionState`` (``nova_act/cli/core/types.py`` of the pinned wheel, which
    ``make install`` downloads into ``.venv/wheels/``), imported without the SDK's heavy imports."""
    import importlib
    import sys
    import zipfile

    wheels = sorted((ROOT / ".venv" / "wheels").glob("nova_act-3.4.187.0-*.whl"))
    if not wheels:
        pytest.fail("nova-act's wheel is missing from .venv/wheels/: run `make install`")
    package = tmp_path / "nova_act_model"
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in ("constants.py", "theme.py", "types.py"):
            wheel.extract(f"nova_act/cli/core/{name}", package)
    for folder in ("nova_act", "nova_act/cli", "nova_act/cli/core"):
        (package / folder / "__init__.py").write_text("", encoding="utf-8")
    saved = {k: v for k, v in sys.modules.items() if k == "nova_act" or k.startswith("nova_act.")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(package))
    try:
        return importlib.import_module("nova_act.cli.core.types")
    finally:
        sys.path.remove(str(package))
        for k in [k for k in sys.modules if k == "nova_act" or k.startswith("nova_act.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_write_act_state_writes_a_file_the_act_cli_model_accepts(project, tmp_path):
    types = _nova_act_state_model(tmp_path)
    with pytest.warns(ActStateWarning, match="no image URI"):
        path = write_act_state(make_deployment(), project, home=tmp_path / "home")
    state = types.RegionState.model_validate(json.loads(path.read_text()))  # what `act` does on every command
    assert set(state.workflows) == {"getting-started-workflow", "support-agent"}
    assert all(re.match(r"^[a-zA-Z][a-zA-Z0-9-]*$", name) for name in state.workflows)
    assert state.workflows["support-agent"].deployments.agentcore.deployment_arn == SUPPORT_ARN


def test_write_act_state_waits_for_the_act_cli_lock(project, tmp_path, monkeypatch):
    from stepgraph.deployment import act_state

    home = tmp_path / "home"
    lock = act_state.act_lock_path(ACCOUNT, REGION, home=home)
    lock.parent.mkdir(parents=True)
    lock.touch()  # `act` is writing
    monkeypatch.setattr(act_state, "ACT_LOCK_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(ActStateError, match="held by another writer"):
        act_state.write_act_state(make_deployment(), project, home=home)
    assert not act_state.act_state_path(ACCOUNT, REGION, home=home).exists()
    lock.unlink()  # `act` is done: the lock is taken and released again
    act_state.write_act_state(make_deployment(), project, home=home)
    assert not lock.exists()


# ----------------------------------------------------------------------------- invoke_workflow


def put_record(workflow: str, execution: str, record: dict) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=f"results/{workflow}/{execution}.json", Body=json.dumps(record).encode())


def test_invoke_workflow_returns_the_result_record(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    arn = state_machine("Stepgraph-customer-support")
    record = {"executionArn": "arn", "executionName": "run-1", "workflowName": "customer-support", "sessionId": "s",
              "status": "completed", "result": {"reply": "hi"}, "error": None, "startedAt": "a", "completedAt": "b"}
    put_record("customer-support", "run-1", record)
    statuses = []

    got = invoke_workflow(make_deployment(state_machines={"customer-support": arn}), "customer-support",
                          {"session_id": "s"}, name="run-1", poll_seconds=0.05,
                          on_status=lambda status, description: statuses.append(status))

    assert got == record
    assert statuses[-1] == "completed"
    execution = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=arn.replace(":stateMachine:", ":execution:") + ":run-1")
    assert json.loads(execution["input"]) == {"session_id": "s"}


def test_invoke_workflow_default_name_is_cli_utc_hex(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    arn = state_machine("Stepgraph-customer-support")

    got = invoke_workflow(make_deployment(state_machines={"customer-support": arn}), "customer-support", {}, poll_seconds=0.05)

    assert got["synthesized"] is True  # nothing wrote a record: made from the execution's output
    names = [e["name"] for e in boto3.client("stepfunctions", region_name=REGION).list_executions(stateMachineArn=arn)["executions"]]
    assert len(names) == 1 and names[0].startswith("cli-") and len(names[0].split("-")[2]) == 8


def test_invoke_workflow_synthesizes_a_failed_record_when_aborted(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    wait = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}})
    arn = state_machine("Stepgraph-slow", wait)
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def abort(status, description):
        if status == "running":
            sfn.stop_execution(executionArn=description["executionArn"])

    record = invoke_workflow(make_deployment(state_machines={"slow": arn}), "slow", {"session_id": "chat-1"},
                             name="doomed", poll_seconds=0.05, on_status=abort, record_wait_seconds=0)

    assert record["status"] == "failed"
    assert record["executionStatus"] == "cancelled"
    assert record["synthesized"] is True
    assert record["error"]["code"] == "CANCELLED"
    assert "no result record at s3://stepgraph-results-test/results/slow/doomed.json" in record["error"]["message"]
    assert (record["executionName"], record["workflowName"], record["sessionId"]) == ("doomed", "slow", "chat-1")


def test_invoke_workflow_waits_for_the_backstop_record_of_a_stopped_execution(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    wait = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}})
    arn = state_machine("Stepgraph-slow", wait)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    backstop = {"executionName": "stopped", "workflowName": "slow", "status": "failed",
                "error": {"code": "CANCELLED", "message": "the execution was stopped", "step": "W"}}
    timers = []

    def abort_then_record_late(status, description):
        if status == "running":
            sfn.stop_execution(executionArn=description["executionArn"])
            timers.append(threading.Timer(0.3, put_record, ("slow", "stopped", backstop)))
            timers[-1].start()

    record = invoke_workflow(make_deployment(state_machines={"slow": arn}), "slow", {}, name="stopped",
                             poll_seconds=0.05, on_status=abort_then_record_late, record_wait_seconds=5)

    assert record == backstop


def test_invoke_workflow_maps_an_uncatchable_failure_like_the_backstop(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    fail = json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "bad path"}}})
    tool = json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "TOOL_ERROR", "Cause": "no such order"}}})
    deployment = make_deployment(state_machines={"broken": state_machine("Stepgraph-broken", fail),
                                                 "tooling": state_machine("Stepgraph-tooling", tool)})

    record = invoke_workflow(deployment, "broken", {}, name="b1", poll_seconds=0.05, record_wait_seconds=0)
    coded = invoke_workflow(deployment, "tooling", {}, name="t1", poll_seconds=0.05, record_wait_seconds=0)

    assert record["status"] == "failed" and record["executionStatus"] == "failed"
    assert record["error"]["code"] == "AGENT_ERROR"  # an error outside the six codes, as the backstop maps it
    assert record["error"]["message"].startswith("Boom: bad path (no result record at s3://stepgraph-results-test/results/broken/b1.json")
    assert "made by stepgraph from DescribeExecution" in record["error"]["message"]
    assert coded["error"]["code"] == "TOOL_ERROR"


def test_invoke_workflow_stops_waiting_after_the_timeout(aws_env):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Stepgraph-slow"
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Stepgraph-slow:x"
    with Stubber(sfn) as stub:
        stub.add_response("start_execution", {"executionArn": execution, "startDate": datetime.now(timezone.utc)})
        stub.add_response("describe_execution", {"executionArn": execution, "stateMachineArn": arn, "status": "RUNNING",
                                                 "startDate": datetime.now(timezone.utc)})
        with pytest.raises(ExecutionWaitTimeoutError, match="still RUNNING after 0 s; it keeps running") as info:
            invoke_workflow(make_deployment(state_machines={"slow": arn}), "slow", {}, name="x",
                            stepfunctions=sfn, s3=object(), timeout_seconds=0)
    assert info.value.execution_arn == execution


def test_invoke_workflow_unknown_workflow():
    with pytest.raises(UnknownWorkflowError):
        invoke_workflow(make_deployment(), "nope", {}, stepfunctions=object(), s3=object())


# ----------------------------------------------------------------------------- invoke_agent_runtime


def agentcore_client():
    return boto3.client("bedrock-agentcore", region_name=REGION)


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_invoke_agent_runtime_decodes_json(aws_env):
    client = agentcore_client()
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_agent_runtime",
            {"contentType": "application/json", "statusCode": 200, "response": body(b'{"response": "hello", "n": 1}'),
             "runtimeSessionId": "x" * 33},
            {"agentRuntimeArn": NOVA_ARN, "runtimeSessionId": ANY, "payload": b'{"prompt":"hi"}',
             "qualifier": "DEFAULT", "contentType": "application/json"},
        )
        output = invoke_agent_runtime(make_deployment(), {"prompt": "hi"}, agent_id="getting_started", client=client)
    assert output == {"response": "hello", "n": 1}


def test_invoke_agent_runtime_decodes_an_event_stream_and_keeps_the_session_rule(aws_env):
    from stepgraph.deployment import _invoker_module

    expected_session = _invoker_module().runtime_session_id("chat-42")
    stream = b'data: {"delta": "Hel"}\n\ndata: {"delta": "lo"}\n\ndata: "!"\n\n'
    client = agentcore_client()
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_agent_runtime",
            {"contentType": "text/event-stream", "statusCode": 200, "response": body(stream), "runtimeSessionId": expected_session},
            {"agentRuntimeArn": SUPPORT_ARN, "runtimeSessionId": expected_session, "payload": ANY,
             "qualifier": "DEFAULT", "contentType": "application/json"},
        )
        output = invoke_agent_runtime(SUPPORT_ARN, {"message": "hi"}, session_id="chat-42", client=client)
    assert expected_session.startswith("chat-42-") and len(expected_session) >= 33
    assert output == {"response": "Hello!", "events": [{"delta": "Hel"}, {"delta": "lo"}, "!"]}


def test_invoke_agent_runtime_default_session_id_is_long_enough(aws_env):
    client = agentcore_client()
    seen = {}

    def capture(params, **_):
        seen.update(params)

    client.meta.events.register("before-parameter-build.bedrock-agentcore.InvokeAgentRuntime", capture)
    with Stubber(client) as stub:
        stub.add_response("invoke_agent_runtime", {"contentType": "application/json", "statusCode": 200,
                                                   "response": body(b"{}"), "runtimeSessionId": "x" * 33})
        invoke_agent_runtime(NOVA_ARN, {}, client=client)
    assert 33 <= len(seen["runtimeSessionId"]) <= 256


def test_invoke_agent_runtime_maps_throttling_to_rate_limit(aws_env):
    client = agentcore_client()
    with Stubber(client) as stub:
        stub.add_client_error("invoke_agent_runtime", service_error_code="ThrottlingException",
                              service_message="slow down", http_status_code=429)
        with pytest.raises(AgentInvocationError, match="throttled") as info:
            invoke_agent_runtime(NOVA_ARN, {}, client=client)
    assert info.value.code == "RATE_LIMIT"


def test_invoke_agent_runtime_unknown_agent():
    with pytest.raises(UnknownAgentError, match="deployed: getting_started, support_agent"):
        invoke_agent_runtime(make_deployment(), {}, agent_id="nope", client=object())


# ----------------------------------------------------------------------------- recent_logs


def put_events(group: str, stream: str, events: list[tuple[int, str]]) -> None:
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in events])


def test_recent_logs_of_an_agent_reads_its_runtime_log_group(aws):
    now = int(time.time() * 1000)
    group = "/aws/bedrock-agentcore/runtimes/support_agent-Zy98Xw7654-DEFAULT"
    put_events(group, "2026/11/22/[runtime-logs]abc", [(now - 7_200_000, "old"), (now - 3000, "first"), (now - 1000, "second")])

    events = recent_logs("support_agent", deployment=make_deployment(), since_seconds=600)

    assert [e["message"] for e in events] == ["first", "second"]  # newest last, the old one left out
    assert events[0]["log_stream"] == "2026/11/22/[runtime-logs]abc"
    assert events[0]["timestamp"].endswith("+00:00")
    assert [e["message"] for e in recent_logs("agent:support_agent", deployment=make_deployment(), limit=1)] == ["second"]


def test_recent_logs_of_a_workflow_reads_the_state_machines_log_group(aws):
    now = int(time.time() * 1000)
    group = "/aws/vendedlogs/states/Stepgraph-customer-support-Ab12"
    put_events(group, "states/x", [(now - 2000, '{"type": "ExecutionStarted"}')])
    arn = state_machine("Stepgraph-customer-support",
                        log_group_arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*")

    events = recent_logs("customer-support", deployment=make_deployment(state_machines={"customer-support": arn}))

    assert [e["message"] for e in events] == ['{"type": "ExecutionStarted"}']


def test_recent_logs_errors_name_the_fix(aws):
    deployment = make_deployment(state_machines={"support_agent": "arn:aws:states:us-east-1:1:stateMachine:x"})
    with pytest.raises(UnknownTargetError, match="is both a workflow and an agent"):
        recent_logs("support_agent", deployment=deployment)
    with pytest.raises(UnknownTargetError, match="neither a deployed workflow"):
        recent_logs("nope", deployment=make_deployment())
    with pytest.raises(LogGroupNotFoundError, match="invoke the agent first"):
        recent_logs("getting_started", deployment=make_deployment())
