"""Tests for the deployed-app commands (stepgraph.cli_deployed) through typer's CliRunner, on moto."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from stepgraph.cli import app
from stepgraph.cli_deployed import parse_duration, stack_prefix

REGION = "us-east-1"
ACCOUNT = "123456789012"
NOVA_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/getting_started-AbCdEf1234"
SUPPORT_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/support_agent-Zy98Xw7654"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stepgraph-test"
BUCKET = "demo-results"
TABLE = "demo-approvals"
PREFIX = "Demo"

runner = CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder (cwd) whose cdk.json sets the stack prefix to Demo, with two agents."""
    root = tmp_path / "project"
    for agent_id, settings in {
        "getting_started": {"kind": "nova_act", "nova_act": {"workflow_definition_name": "getting-started-workflow"}},
        "support_agent": {"kind": "python"},
    }.items():
        folder = root / "agents" / agent_id
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text("FROM --platform=linux/arm64 python:3.12-slim\n")
        (folder / "main.py").write_text("# agent\n")
        (folder / "agent.json").write_text(json.dumps(settings))
    (root / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": {"stepgraph:stackPrefix": PREFIX}}))
    monkeypatch.chdir(root)
    return root


def create_stack(name: str, outputs: dict[str, str]) -> None:
    template = {"Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name, TemplateBody=json.dumps(template))


def deploy(*, approvals: bool = True) -> str:
    """The three Demo stacks; one Pass state machine for workflow customer-support. Returns its ARN."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name=f"{PREFIX}-customer-support", definition=definition, roleArn=ROLE_ARN)["stateMachineArn"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    create_stack(f"{PREFIX}Results", {"ResultsBucketName": BUCKET, "ResultsTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:r"})
    create_stack(f"{PREFIX}Agents", {"AgentRuntimeArnGettingStarted": NOVA_ARN, "AgentRuntimeArnSupportAgent": SUPPORT_ARN})
    outputs = {"StateMachineArnCustomerSupport": arn}
    if approvals:
        outputs.update(ApprovalsTableName=TABLE, ApprovalsTopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:a")
    create_stack(f"{PREFIX}Workflows", outputs)
    return arn


def approvals_table(*items: dict) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    for item in items:
        ddb.put_item(TableName=TABLE, Item={k: ({"L": [{"S": x} for x in v]} if isinstance(v, list) else {"S": v})
                                            for k, v in item.items()})


def approval(approval_id: str, status: str = "pending", *, expires_in: timedelta = timedelta(hours=1)) -> dict:
    now = datetime.now(timezone.utc)
    return {"approval_id": approval_id, "status": status, "workflow_name": "refund-approval",
            "execution_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{PREFIX}-refund-approval:{approval_id}",
            "execution_name": approval_id, "step_id": "manager_approval", "approvers": ["ops@example.com"],
            "message": "Refund $120 for ORD-1003?", "requested_at": (now - timedelta(minutes=5)).isoformat(),
            "expires_at": (now + expires_in).isoformat(), "task_token": "token-" + approval_id}


# ----------------------------------------------------------------------------- helpers


def test_parse_duration_reads_units():
    assert [parse_duration(t) for t in ("30s", "10m", "2h", "1d", "45", "500ms")] == [30, 600, 7200, 86400, 45, 0.5]


def test_stack_prefix_comes_from_cdk_json(project):
    assert stack_prefix() == PREFIX


def test_stack_prefix_defaults_to_stepgraph(tmp_path):
    assert stack_prefix(tmp_path) == "Stepgraph"


# ----------------------------------------------------------------------------- deploy-state


def test_deploy_state_writes_the_act_cli_state_file(aws, project, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    deploy()

    result = runner.invoke(app, ["deploy-state", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    path = tmp_path / "home" / ".act_cli" / "state" / ACCOUNT / REGION / "workflows.json"
    assert report["path"] == str(path)
    assert report["workflows"] == {"getting-started-workflow": NOVA_ARN, "support-agent": SUPPORT_ARN}  # act-valid name (issue 12)
    state = json.loads(path.read_text())
    assert state["workflows"]["getting-started-workflow"]["deployments"]["agentcore"]["deployment_arn"] == NOVA_ARN


def test_deploy_state_text_and_nova_act_only(aws, project, tmp_path):
    deploy()

    result = runner.invoke(app, ["deploy-state", "--home", str(tmp_path), "--nova-act-only"])

    assert result.exit_code == 0, result.output
    assert "getting-started-workflow" in result.stdout and "support_agent" not in result.stdout


def test_deploy_state_without_stacks_exits_1_with_the_fix(aws, project):
    result = runner.invoke(app, ["deploy-state", "--json"])

    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].startswith(
        "stacks DemoResults, DemoAgents, DemoWorkflows not found in us-east-1: run `npx cdk deploy --all` first")
    assert "Traceback" not in result.output


def test_commands_without_credentials_say_how_to_fix_it(project, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session made by another test caches its credentials

    result = runner.invoke(app, ["approvals", "list"])

    assert result.exit_code == 1
    assert "no AWS credentials: run `aws configure` or set AWS_PROFILE" in result.stderr


# ----------------------------------------------------------------------------- invoke


def test_invoke_workflow_prints_the_record_and_exits_0_when_completed(aws, project):
    deploy()
    record = {"executionName": "run-7", "workflowName": "customer-support", "status": "completed", "result": {"reply": "ok"},
              "error": None}
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key="results/customer-support/run-7.json",
                                                      Body=json.dumps(record).encode())

    result = runner.invoke(app, ["invoke", "workflow", "customer-support", "--name", "run-7", "--input",
                                 '{"session_id": "s-1"}', "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == record


def test_invoke_workflow_exits_1_on_a_failed_record(aws, project):
    deploy()
    record = {"executionName": "run-8", "status": "failed", "error": {"code": "AGENT_ERROR", "message": "boom", "step": "agent"}}
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key="results/customer-support/run-8.json",
                                                      Body=json.dumps(record).encode())

    result = runner.invoke(app, ["invoke", "workflow", "customer-support", "--name", "run-8"])

    assert result.exit_code == 1
    assert '"AGENT_ERROR"' in result.stdout
    assert "failed" in result.stderr


def test_invoke_workflow_unknown_name_and_bad_input(aws, project):
    deploy()

    unknown = runner.invoke(app, ["invoke", "workflow", "nope", "--json"])
    bad = runner.invoke(app, ["invoke", "workflow", "customer-support", "--input", "{oops"])

    assert unknown.exit_code == 1
    assert "no deployed workflow 'nope'" in json.loads(unknown.stdout)["error"]
    assert "deployed: customer-support" in unknown.stderr
    assert bad.exit_code == 1 and "--input is neither a JSON document" in bad.stderr


def test_invoke_agent_unknown_agent_lists_the_deployed_ones(aws, project):
    deploy()

    result = runner.invoke(app, ["invoke", "agent", "nope", "--payload", "{}"])

    assert result.exit_code == 1
    assert "deployed: getting_started, support_agent" in result.stderr


# ----------------------------------------------------------------------------- logs


def test_logs_prints_an_agents_recent_events(aws, project):
    deploy()
    logs = boto3.client("logs", region_name=REGION)
    group = "/aws/bedrock-agentcore/runtimes/getting_started-AbCdEf1234-DEFAULT"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now - 1000, "message": "browser ready"}])

    text = runner.invoke(app, ["logs", "getting_started", "--since", "5m"])
    as_json = runner.invoke(app, ["logs", "getting_started", "--json"])
    bad = runner.invoke(app, ["logs", "getting_started", "--since", "soon"])

    assert text.exit_code == 0, text.output
    assert "browser ready" in text.stdout
    assert [e["message"] for e in json.loads(as_json.stdout)] == ["browser ready"]
    assert bad.exit_code == 1 and "write it like 30s, 10m, 2h or 1d" in bad.stderr


# ----------------------------------------------------------------------------- approvals


def test_approvals_list_shows_pending_requests(aws, project):
    deploy()
    approvals_table(approval("a-1"), approval("a-2", "approved"), approval("a-3", expires_in=timedelta(hours=-1)))

    listed = runner.invoke(app, ["approvals", "list", "--json"])
    every = runner.invoke(app, ["approvals", "list", "--status", "all", "--json"])
    text = runner.invoke(app, ["approvals", "list"])

    assert listed.exit_code == 0, listed.output
    pending = json.loads(listed.stdout)
    assert [a["approval_id"] for a in pending] == ["a-1"]
    assert "task_token" not in pending[0]
    assert sorted(a["approval_id"] for a in json.loads(every.stdout)) == ["a-1", "a-2", "a-3"]
    assert "a-1" in text.stdout and "manager_approval" in text.stdout


def test_approvals_approve_for_a_claimed_name_is_impossible(aws, project, monkeypatch):
    """No path decides for a typed name: --as is gone, and deciding needs the API and a token.

    A non-approver's token refused by the API is tested in tests/api/test_cli_approvals.py.
    """
    monkeypatch.delenv("STEPGRAPH_API_URL", raising=False)
    monkeypatch.delenv("STEPGRAPH_API_TOKEN", raising=False)
    deploy()
    approvals_table(approval("a-1"))

    claimed = runner.invoke(app, ["approvals", "approve", "a-1", "--as", "mallory@example.com", "--comment", "sure"])
    without_api = runner.invoke(app, ["approvals", "approve", "a-1", "--comment", "sure"])

    assert claimed.exit_code == 2 and "--as" in claimed.stderr
    assert without_api.exit_code == 1 and "--api" in without_api.stderr and "--token" in without_api.stderr
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName=TABLE, Key={"approval_id": {"S": "a-1"}})["Item"]
    assert item["status"]["S"] == "pending"


def test_approvals_without_a_table_say_why(aws, project):
    deploy(approvals=False)

    result = runner.invoke(app, ["approvals", "list"])

    assert result.exit_code == 1
    assert "no deployed workflow has a human_approval step" in result.stderr
