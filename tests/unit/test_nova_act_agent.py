"""Tests for the Nova Act agent in agents/getting_started (SDK boundary, authentication, HTTP contract).

The Nova Act SDK is replaced at its boundary: a fake ``nova_act`` package (``NovaAct``,
``workflow``, ``Workflow``, ``get_current_workflow`` and ``nova_act.types.errors.AuthError`` /
``IAMAuthError``, the names the real 3.4.187.0 exposes) goes into ``sys.modules`` and records
what it receives. ``test_fakes_match_the_real_sdk`` checks those names against the real package
when it is installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber

AGENT_DIR = Path(__file__).resolve().parents[2] / "agents" / "getting_started"
URL = "https://nova.amazon.com/act"
TASK = "Find the heading of the page"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nova-act-key-AbCdEf"
API_KEY = "0123456789abcdef0123456789abcdef0123"  # 36 characters, like a real key


def load_agent() -> ModuleType:
    """Import agents/getting_started/main.py by path (``agents`` is not a package)."""
    spec = importlib.util.spec_from_file_location("getting_started_main", AGENT_DIR / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def agent() -> ModuleType:
    return load_agent()


@pytest.fixture(autouse=True)
def _fresh_secret_cache(agent):
    agent.read_api_key_secret.cache_clear()
    yield
    agent.read_api_key_secret.cache_clear()


# ----------------------------------------------------------------------------- the fake SDK


@dataclasses.dataclass(frozen=True)
class FakeActMetadata:
    """Same fields as ``nova_act.types.act_metadata.ActMetadata``."""

    session_id: str
    act_id: str
    num_steps_executed: int
    start_time: float | None
    end_time: float | None
    prompt: str
    step_server_times_s: list = dataclasses.field(default_factory=list)
    time_worked_s: float | None = None
    human_wait_time_s: float = 0.0
    trajectory_file_path: str | None = None


@dataclasses.dataclass(frozen=True)
class FakeActGetResult:
    """Same fields as ``nova_act.types.act_result.ActGetResult``."""

    metadata: FakeActMetadata
    replayable: bool = False
    response: str | None = None
    parsed_response: Any = None
    valid_json: bool | None = None
    matches_schema: bool | None = None


class FakeAuthError(Exception):
    pass


class FakeIAMAuthError(Exception):
    pass


def install_fake_sdk(monkeypatch, agent: ModuleType, *, enter_error: Exception | None = None,
                     result: FakeActGetResult | None = None) -> SimpleNamespace:
    """Put a recording fake ``nova_act`` into ``sys.modules``; return the record.

    ``enter_error`` is raised when the workflow run starts (as the real ``Workflow.__enter__``
    raises auth errors); ``result`` is what ``act_get`` returns.
    """
    record = SimpleNamespace(workflow_kwargs=[], workflows=[], nova_kwargs=[], acts=[], ping_during_act=[])
    state = {"current": None}
    result = result or FakeActGetResult(
        metadata=FakeActMetadata(
            session_id="sess-1", act_id="act-1", num_steps_executed=3, start_time=1000.0, end_time=1012.5,
            prompt=TASK, time_worked_s=12.5,
        ),
        response="Amazon Nova Act",
        parsed_response="Amazon Nova Act",
        valid_json=True,
        matches_schema=True,
    )

    class Workflow:
        def __init__(self, model_id, boto_session_kwargs=None, workflow_definition_name=None, boto_config=None,
                     log_group_name=None, nova_act_api_key=None):
            self.kwargs = dict(model_id=model_id, boto_session_kwargs=boto_session_kwargs,
                               workflow_definition_name=workflow_definition_name, boto_config=boto_config,
                               log_group_name=log_group_name, nova_act_api_key=nova_act_api_key)
            self.workflow_definition_name = workflow_definition_name if nova_act_api_key is None else "default"
            self.workflow_run_id = None
            self.status = None
            record.workflows.append(self)

        def __enter__(self):
            if enter_error is not None:
                raise enter_error
            self.workflow_run_id = "run-0001"
            return self

        def __exit__(self, exc_type, exc, tb):
            self.status = "FAILED" if exc_type else "SUCCEEDED"

    def workflow(**kwargs):
        record.workflow_kwargs.append(kwargs)

        def decorator(func):
            def wrapper(*args, **kw):
                with Workflow(**kwargs) as run:
                    outer, state["current"] = state["current"], run
                    try:
                        return func(*args, **kw)
                    finally:
                        state["current"] = outer

            return wrapper

        return decorator

    class NovaAct:
        def __init__(self, starting_page=None, **kwargs):
            record.nova_kwargs.append({"starting_page": starting_page, **kwargs, "_workflow": state["current"]})

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def act_get(self, prompt, schema={"type": "string"}, **kwargs):
            record.acts.append({"prompt": prompt, "schema": schema, **kwargs})
            record.ping_during_act.append(agent.app.get_current_ping_status().value)
            return result

    errors = ModuleType("nova_act.types.errors")
    errors.AuthError, errors.IAMAuthError = FakeAuthError, FakeIAMAuthError
    types_module = ModuleType("nova_act.types")
    types_module.errors = errors
    sdk = ModuleType("nova_act")
    sdk.NovaAct, sdk.Workflow, sdk.workflow = NovaAct, Workflow, workflow
    sdk.get_current_workflow = lambda: state["current"]
    sdk.types = types_module
    monkeypatch.setitem(sys.modules, "nova_act", sdk)
    monkeypatch.setitem(sys.modules, "nova_act.types", types_module)
    monkeypatch.setitem(sys.modules, "nova_act.types.errors", errors)
    return record


@pytest.fixture()
def no_aws(monkeypatch, tmp_path):
    """No AWS credentials, no API key, no instance metadata, an empty home."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "NOVA_ACT_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture()
def aws(no_aws, monkeypatch):
    """Static AWS credentials in the environment (never used for a real call here)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


@pytest.fixture()
def sdk(agent, monkeypatch):
    return install_fake_sdk(monkeypatch, agent)


@pytest.fixture()
def no_network(monkeypatch):
    """Fail any outgoing connection."""

    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"network touched: connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def payload(**extra: Any) -> dict:
    return {"url": URL, "task": TASK, **extra}


# ----------------------------------------------------------------------------- SDK boundary


def test_invoke_passes_url_and_task_to_nova_act(agent, sdk, aws):
    agent.invoke(payload())

    assert len(sdk.nova_kwargs) == 1
    nova = sdk.nova_kwargs[0]
    assert nova["starting_page"] == URL
    assert nova["headless"] is True
    assert nova["tty"] is False
    assert sdk.acts == [{"prompt": TASK, "schema": {"type": "string"}}]  # act_get's default schema
    assert sdk.ping_during_act == ["HealthyBusy"]
    assert agent.app.get_current_ping_status().value == "Healthy"


def test_invoke_runs_main_under_workflow_with_definition_name_and_model_id(agent, sdk, aws):
    agent.invoke(payload())

    assert len(sdk.workflow_kwargs) == 1
    kwargs = sdk.workflow_kwargs[0]
    assert kwargs["model_id"] == "nova-act-latest"
    assert kwargs["workflow_definition_name"] == "getting-started-workflow"
    assert "nova_act_api_key" not in kwargs
    # IAM: the SDK signs for us-east-1 (its only endpoint), whatever AWS_REGION says, with bounded clients.
    assert kwargs["boto_session_kwargs"]["region_name"] == "us-east-1"
    botocore_session = kwargs["boto_session_kwargs"]["botocore_session"]
    assert botocore_session.get_default_client_config().connect_timeout == 5
    assert kwargs["boto_config"].connect_timeout == 5
    assert kwargs["boto_config"].read_timeout == 60
    # NovaAct was built inside the workflow run, which then succeeded.
    (run,) = sdk.workflows
    assert sdk.nova_kwargs[0]["_workflow"] is run
    assert run.status == "SUCCEEDED"


def test_invoke_takes_workflow_definition_name_from_environment(agent, sdk, aws, monkeypatch):
    monkeypatch.setenv("NOVA_ACT_WORKFLOW_DEFINITION_NAME", "checkout-workflow")

    result = agent.invoke(payload())

    assert sdk.workflow_kwargs[0]["workflow_definition_name"] == "checkout-workflow"
    assert result["workflow_definition_name"] == "checkout-workflow"


def test_invoke_returns_main_result_as_output(agent, sdk, aws):
    result = agent.invoke(payload())

    assert result == {
        "url": URL,
        "task": TASK,
        "response": "Amazon Nova Act",
        "parsed": "Amazon Nova Act",
        "valid_json": True,
        "matches_schema": True,
        "steps_taken": 3,
        "metadata": {
            "session_id": "sess-1",
            "act_id": "act-1",
            "num_steps_executed": 3,
            "start_time": 1000.0,
            "end_time": 1012.5,
            "time_worked_s": 12.5,
        },
        "workflow_definition_name": "getting-started-workflow",
        "workflow_run_id": "run-0001",
    }
    assert json.loads(json.dumps(result)) == result


def test_invoke_with_schema_returns_parsed_response(agent, monkeypatch, aws):
    schema = {"type": "object", "properties": {"heading": {"type": "string"}}, "required": ["heading"]}
    answer = FakeActGetResult(
        metadata=FakeActMetadata(session_id="s", act_id="a", num_steps_executed=5, start_time=None, end_time=None,
                                 prompt=TASK),
        response='{"heading": "Amazon Nova Act"}',
        parsed_response={"heading": "Amazon Nova Act"},
        valid_json=True,
        matches_schema=True,
    )
    sdk = install_fake_sdk(monkeypatch, agent, result=answer)

    result = agent.invoke(payload(schema=schema, max_steps=10, timeout=300))

    assert sdk.acts == [{"prompt": TASK, "schema": schema, "max_steps": 10, "timeout": 300}]
    assert result["parsed"] == {"heading": "Amazon Nova Act"}
    assert result["steps_taken"] == 5


def test_invoke_accepts_platform_default_payload(agent, sdk, aws):
    result = agent.invoke({"input": {"url": URL, "task": TASK}, "steps": {}, "step_id": "browse", "max_iterations": 1})

    assert sdk.nova_kwargs[0]["starting_page"] == URL
    assert result["task"] == TASK


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"task": TASK}, "'url'"),
        ({"url": URL}, "'task'"),
        ({"url": URL, "task": "   "}, "'task'"),
        ({}, "'url' and 'task'"),
    ],
)
def test_invoke_missing_url_or_task_raises_clear_value_error(agent, sdk, no_aws, body, missing):
    with pytest.raises(ValueError, match=f"needs {missing} in its payload") as caught:
        agent.invoke(body)

    assert '"url"' in str(caught.value) and '"task"' in str(caught.value)  # shows the expected shape
    assert sdk.workflow_kwargs == [] and sdk.nova_kwargs == []  # validated before any SDK call


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("just a string", "expects a JSON object"),
        ({"url": "nova.amazon.com", "task": TASK}, "http"),
        ({"url": URL, "task": TASK, "schema": "string"}, "JSON schema object"),
        ({"url": URL, "task": TASK, "max_steps": 0}, "positive integer"),
    ],
)
def test_invoke_invalid_payload_raises_value_error(agent, sdk, no_aws, body, message):
    with pytest.raises(ValueError, match=message):
        agent.invoke(body)


# ----------------------------------------------------------------------------- authentication


def test_invoke_without_credentials_fails_fast_without_network(agent, sdk, no_aws, no_network):
    started = time.monotonic()
    with pytest.raises(agent.NovaActSetupError) as caught:
        agent.invoke(payload())
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert "AWS credentials with nova-act permissions" in message
    assert "execution role" in message
    assert "NOVA_ACT_API_KEY" in message and "Secrets Manager" in message
    assert message.endswith("none found")
    assert "nova-act==" not in message  # the (fake) SDK is installed: only the credentials are missing
    assert sdk.workflow_kwargs == [] and sdk.workflows == []  # the SDK was never called
    assert elapsed < 2


def test_invoke_without_sdk_names_the_package_and_credentials(agent, monkeypatch, no_aws, no_network):
    monkeypatch.setitem(sys.modules, "nova_act", None)  # import nova_act -> ImportError

    with pytest.raises(agent.NovaActSetupError) as caught:
        agent.invoke(payload())

    assert caught.value.problems == (agent.MISSING_SDK, agent.MISSING_CREDENTIALS)
    assert "nova-act==3.4.187.0" in str(caught.value)
    assert "playwright install --with-deps chromium" in str(caught.value)


def test_invoke_sdk_auth_error_becomes_clear_error(agent, monkeypatch, aws):
    box = (
        "\n*****************************\n* Authentication Failed     *\n*                           *\n"
        "* Please configure one     *\n*****************************"
    )
    install_fake_sdk(monkeypatch, agent, enter_error=FakeAuthError(box))

    with pytest.raises(agent.NovaActSetupError) as caught:
        agent.invoke(payload())

    assert str(caught.value) == "Nova Act refused the authentication: Authentication Failed Please configure one"
    assert caught.value.__suppress_context__  # no SDK traceback chained into the answer
    assert caught.value.code == "NOVA_ACT_NOT_CONFIGURED"


def test_invoke_sdk_iam_error_becomes_clear_error(agent, monkeypatch, aws):
    install_fake_sdk(monkeypatch, agent, enter_error=FakeIAMAuthError("IAM validation failed: AccessDenied"))

    with pytest.raises(agent.NovaActSetupError, match="could not use the AWS credentials: IAM validation failed") as caught:
        agent.invoke(payload())

    assert "nova-act permissions on workflow definition getting-started-workflow" in str(caught.value)


def test_invoke_uses_api_key_from_environment_explicitly(agent, sdk, no_aws, no_network, monkeypatch):
    monkeypatch.setenv("NOVA_ACT_API_KEY", API_KEY)

    agent.invoke(payload())

    kwargs = sdk.workflow_kwargs[0]
    assert kwargs["nova_act_api_key"] == API_KEY  # explicit, or the SDK calls the environment key ambiguous
    assert "boto_session_kwargs" not in kwargs and "boto_config" not in kwargs


@pytest.fixture()
def secrets(agent, monkeypatch):
    """A Secrets Manager client stubbed against the real service model; records the secret ids asked for."""
    client = boto3.client("secretsmanager", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    asked: list[str] = []

    def factory(secret_id):
        asked.append(secret_id)
        return client

    monkeypatch.setattr(agent, "_secretsmanager_client", factory)
    with stubber:
        yield SimpleNamespace(stubber=stubber, asked=asked)


def test_invoke_reads_api_key_secret_once_and_never_logs_it(agent, sdk, no_aws, secrets, monkeypatch, caplog):
    monkeypatch.setenv("NOVA_ACT_API_KEY_SECRET_ARN", SECRET_ARN)
    secrets.stubber.add_response(
        "get_secret_value",
        {"ARN": SECRET_ARN, "Name": "nova-act-key", "SecretString": json.dumps({"api_key": API_KEY})},
        {"SecretId": SECRET_ARN},
    )
    caplog.set_level(logging.DEBUG)

    agent.invoke(payload())
    agent.invoke(payload())

    secrets.stubber.assert_no_pending_responses()
    assert secrets.asked == [SECRET_ARN]  # read once, then cached
    assert [kwargs["nova_act_api_key"] for kwargs in sdk.workflow_kwargs] == [API_KEY, API_KEY]
    assert API_KEY not in caplog.text


def test_invoke_unreadable_api_key_secret_names_secret_and_permission(agent, sdk, no_aws, secrets, monkeypatch):
    monkeypatch.setenv("NOVA_ACT_API_KEY_SECRET_ARN", SECRET_ARN)
    secrets.stubber.add_client_error("get_secret_value", service_error_code="AccessDeniedException", http_status_code=400)

    with pytest.raises(agent.NovaActSetupError) as caught:
        agent.invoke(payload())

    message = str(caught.value)
    assert SECRET_ARN in message and "AccessDeniedException" in message
    assert "secretsmanager:GetSecretValue" in message
    assert sdk.workflow_kwargs == []


def test_secretsmanager_client_uses_the_secret_region(agent, no_aws):
    assert agent._secretsmanager_client(SECRET_ARN).meta.region_name == "eu-west-1"


# ----------------------------------------------------------------------------- agent folder


def test_agent_json_declares_nova_act_workflow(agent):
    from stepgraph.agents import discover_agents

    spec = discover_agents(AGENT_DIR.parent)["getting_started"]

    assert spec.kind == "nova_act"
    assert spec.nova_act.workflow_definition_name == agent.DEFAULT_WORKFLOW_DEFINITION_NAME
    assert spec.environment["NOVA_ACT_WORKFLOW_DEFINITION_NAME"] == spec.nova_act.workflow_definition_name
    assert not any("KEY" in name or "SECRET" in name for name in spec.environment)


def test_image_pins_sdk_and_bakes_chromium():
    requirements = [
        line.strip() for line in (AGENT_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    dockerfile = (AGENT_DIR / "Dockerfile").read_text()

    assert all("==" in line for line in requirements)
    assert {"nova-act==3.4.187.0", "bedrock-agentcore==1.25.0", "boto3==1.44.5"} <= set(requirements)
    assert dockerfile.startswith("#") and "FROM --platform=linux/arm64 python:3.12-slim" in dockerfile
    assert "RUN playwright install --with-deps chromium" in dockerfile
    for setting in ("NOVA_ACT_SKIP_PLAYWRIGHT_INSTALL=1", "DOCKER_CONTAINER=1",
                    'NOVA_ACT_BROWSER_ARGS="--disable-gpu --disable-dev-shm-usage --no-sandbox"'):
        assert setting in dockerfile
    assert "USER agent" in dockerfile and 'CMD ["python", "main.py"]' in dockerfile


def test_fakes_match_the_real_sdk():
    """The names the fakes stand in for exist in the installed nova-act (skipped when it is not installed)."""
    nova_act = pytest.importorskip("nova_act")
    from nova_act.types.errors import AuthError, IAMAuthError

    assert issubclass(AuthError, Exception) and issubclass(IAMAuthError, Exception)
    assert set(inspect.signature(nova_act.workflow).parameters) == {
        "model_id", "boto_session_kwargs", "workflow_definition_name", "boto_config", "log_group_name",
        "nova_act_api_key",
    }
    assert {"starting_page", "headless", "tty"} <= set(inspect.signature(nova_act.NovaAct).parameters)
    assert {"prompt", "schema", "max_steps", "timeout"} <= set(inspect.signature(nova_act.NovaAct.act_get).parameters)
    assert [f.name for f in dataclasses.fields(nova_act.ActGetResult)] == [
        f.name for f in dataclasses.fields(FakeActGetResult)
    ]
    assert [f.name for f in dataclasses.fields(nova_act.ActMetadata)] == [
        f.name for f in dataclasses.fields(FakeActMetadata)
    ]
    assert {"workflow_definition_name", "workflow_run_id"} <= set(dir(nova_act.Workflow))
    assert callable(nova_act.get_current_workflow)


# ----------------------------------------------------------------------------- HTTP contract


@pytest.fixture()
def served_agent(serve_agent, tmp_path):
    """``python agents/getting_started/main.py`` without any AWS credentials; its base URL."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("AWS_", "NOVA_ACT_"))}
    return serve_agent(AGENT_DIR, cwd=tmp_path, env={
        **unset,
        "HOME": str(tmp_path),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    })


def test_served_agent_without_credentials_answers_500_naming_what_is_missing(served_agent):
    assert httpx.get(f"{served_agent}/ping", timeout=5).json()["status"] == "Healthy"

    started = time.monotonic()
    response = httpx.post(
        f"{served_agent}/invocations",
        json={"url": URL, "task": TASK},
        headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "s" * 40},
        timeout=10,
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 500
    error = response.json()["error"]
    assert "Nova Act needs AWS credentials with nova-act permissions" in error
    assert "NOVA_ACT_API_KEY" in error and error.endswith("none found")
    assert "Traceback" not in error
    assert elapsed < 5


def test_served_agent_missing_task_answers_500_with_validation_message(served_agent):
    response = httpx.post(f"{served_agent}/invocations", json={"url": URL}, timeout=10)

    assert response.status_code == 500
    assert "needs 'task' in its payload" in response.json()["error"]
