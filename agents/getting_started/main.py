"""Nova Act browser agent for AgentCore Runtime: runs one natural-language task on a web page.

The seed's ``getting-started-workflow``: ``main(payload)`` runs under the Nova Act SDK's
``@workflow(...)`` and its return value is the step output (SPEC §6). The payload is
``{"url": <starting page>, "task": <what to do there>}``, optionally with ``"schema"`` (a JSON
schema for the answer), ``"max_steps"`` and ``"timeout"`` (seconds, for ``act_get``).

Authentication, checked before any SDK object exists (so a misconfigured runtime fails in
milliseconds instead of hanging on the network):

* API key: ``NOVA_ACT_API_KEY``, or the Secrets Manager secret whose ARN/name is in
  ``NOVA_ACT_API_KEY_SECRET_ARN`` (read once on first use, cached, never logged). Passed to the
  SDK explicitly as ``nova_act_api_key`` (Nova Act free version; the SDK then ignores the
  workflow definition name).
* Otherwise AWS credentials (IAM; inside AgentCore the runtime's execution role), used against
  the Nova Act AWS service in us-east-1 with the workflow definition named by
  ``NOVA_ACT_WORKFLOW_DEFINITION_NAME`` (default ``getting-started-workflow``).

``nova_act`` is imported lazily, so the app starts (and answers ``/ping``) even without it; a
missing SDK or missing credentials raise :class:`NovaActSetupError`, which BedrockAgentCoreApp
answers with HTTP 500 ``{"error": <message>}``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import boto3
import botocore.session
from botocore.config import Config
from bedrock_agentcore import BedrockAgentCoreApp

from stepgraph_runtime.async_agent import async_step

DEFAULT_WORKFLOW_DEFINITION_NAME = "getting-started-workflow"
MODEL_ID = "nova-act-latest"
API_KEY_ENV = "NOVA_ACT_API_KEY"
API_KEY_SECRET_ENV = "NOVA_ACT_API_KEY_SECRET_ARN"
WORKFLOW_DEFINITION_ENV = "NOVA_ACT_WORKFLOW_DEFINITION_NAME"
SDK_PIN = "nova-act==3.4.187.0"
#: nova-act 3.4.187.0 sends every IAM call to https://nova-act.us-east-1.amazonaws.com/, so requests
#: must be signed for us-east-1 whatever region the runtime itself runs in (AWS_REGION).
NOVA_ACT_REGION = "us-east-1"
#: Bounds every AWS call the SDK makes with our session (CreateWorkflowRun, STS, acts): an
#: unreachable endpoint fails after 2 x 5 s instead of botocore's 60 s connect timeout with retries.
#: read_timeout/total_max_attempts are the SDK's own defaults (it warns below 60 s / above 2).
AWS_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 2, "mode": "standard"})
SECRETS_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"})

MISSING_CREDENTIALS = (
    "Nova Act needs AWS credentials with nova-act permissions (IAM; inside AgentCore, the runtime's "
    f"execution role) or an API key in {API_KEY_ENV} (deployed: from the Secrets Manager secret named in "
    f"agent.json nova_act.api_key_secret_name, passed to the runtime as {API_KEY_SECRET_ENV}); none found"
)
MISSING_SDK = (
    f"the Nova Act SDK (Python package nova-act) is not installed: add {SDK_PIN} to the image's "
    "requirements.txt and bake Chromium in with `playwright install --with-deps chromium`"
)

logger = logging.getLogger("getting_started")
app = BedrockAgentCoreApp()


class NovaActSetupError(RuntimeError):
    """The agent cannot run Nova Act: the SDK, credentials or the API key secret are missing or rejected.

    Attributes
    ----------
    code : str
        ``"NOVA_ACT_NOT_CONFIGURED"``.
    problems : tuple of str
        Each thing that is missing, with how to fix it; the message joins them.
    """

    code = "NOVA_ACT_NOT_CONFIGURED"

    def __init__(self, *problems: str):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class BrowserTask:
    """One validated request: where to start, what to do, and the optional ``act_get`` settings."""

    url: str
    task: str
    schema: Mapping[str, Any] | None = None
    max_steps: int | None = None
    timeout: int | None = None


@dataclass(frozen=True)
class Auth:
    """How the SDK authenticates: ``api_key`` (free version) or, when ``None``, AWS credentials."""

    api_key: str | None
    botocore_session: botocore.session.Session | None


def parse_request(payload: Any) -> BrowserTask:
    """Validate the payload and return the browser task.

    ``url`` and ``task`` are read from the payload itself or, for the platform's default payload
    (``{"input": <execution input>, "steps": ...}``), from its ``input``.

    Parameters
    ----------
    payload : Any
        The ``/invocations`` body.

    Returns
    -------
    BrowserTask

    Raises
    ------
    ValueError
        When ``url`` or ``task`` is missing or empty, or an option has the wrong type.
    """
    if not isinstance(payload, dict):
        raise ValueError(
            f"the getting_started agent expects a JSON object {{\"url\": ..., \"task\": ...}}, not {type(payload).__name__}"
        )
    source = payload
    if "url" not in payload and "task" not in payload and isinstance(payload.get("input"), dict):
        source = payload["input"]
    missing = [key for key in ("url", "task") if not isinstance(source.get(key), str) or not source[key].strip()]
    if missing:
        raise ValueError(
            f"the getting_started agent needs {' and '.join(repr(key) for key in missing)} in its payload: "
            '{"url": "<page to start on, e.g. https://nova.amazon.com/act>", "task": "<what to do there>"}'
        )
    url = source["url"].strip()
    if not re.match(r"^https?://", url, re.I):
        raise ValueError(f"'url' must be an http(s) URL, not {url!r}")
    schema = source.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise ValueError("'schema' must be a JSON schema object, e.g. {\"type\": \"string\"}")
    options: dict[str, int] = {}
    for key in ("max_steps", "timeout"):
        value = source.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise ValueError(f"'{key}' must be a positive integer, not {value!r}")
        if value is not None:
            options[key] = value
    return BrowserTask(url=url, task=source["task"].strip(), schema=schema, **options)


def workflow_definition_name() -> str:
    """Return the workflow definition name: ``NOVA_ACT_WORKFLOW_DEFINITION_NAME``, default ``getting-started-workflow``."""
    return os.environ.get(WORKFLOW_DEFINITION_ENV) or DEFAULT_WORKFLOW_DEFINITION_NAME


def sdk_installed() -> bool:
    """Tell whether ``nova_act`` can be imported, without importing it (that takes about a second)."""
    if sys.modules.get("nova_act") is not None:
        return True
    try:
        return importlib.util.find_spec("nova_act") is not None
    except (ImportError, ValueError):
        return False


def _secretsmanager_client(secret_id: str) -> Any:
    """Return a Secrets Manager client in the secret's own region (from its ARN), else the default one."""
    parts = secret_id.split(":")
    region = parts[3] if secret_id.startswith("arn:") and len(parts) > 3 and parts[3] else None
    return boto3.client("secretsmanager", region_name=region, config=SECRETS_CLIENT_CONFIG)


@functools.lru_cache(maxsize=4)
def read_api_key_secret(secret_id: str) -> str:
    """Read the Nova Act API key from Secrets Manager once per secret (failures are not cached).

    Parameters
    ----------
    secret_id : str
        ARN or name of the secret. Its ``SecretString`` is the key itself, or a JSON object with
        ``api_key`` or ``NOVA_ACT_API_KEY``.

    Returns
    -------
    str
        The API key.

    Raises
    ------
    NovaActSetupError
        When the secret cannot be read or holds no key. The message never contains the value.
    """
    try:
        response = _secretsmanager_client(secret_id).get_secret_value(SecretId=secret_id)
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing to the caller
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        raise NovaActSetupError(
            f"could not read the Nova Act API key from Secrets Manager secret {secret_id} ({code}): the runtime's "
            "execution role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key, if customer-managed)"
        ) from None
    value = (response.get("SecretString") or "").strip()
    if value.startswith("{"):
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            document = {}
        value = str(document.get("api_key") or document.get(API_KEY_ENV) or "").strip() if isinstance(document, dict) else ""
    if not value:
        raise NovaActSetupError(
            f"Secrets Manager secret {secret_id} holds no Nova Act API key: store the key as the secret string "
            'or as {"api_key": "<key>"}'
        )
    return value


def api_key() -> str | None:
    """Return the API key from ``NOVA_ACT_API_KEY``, else from the secret in ``NOVA_ACT_API_KEY_SECRET_ARN``, else ``None``."""
    key = (os.environ.get(API_KEY_ENV) or "").strip()
    if key:
        return key
    secret_id = (os.environ.get(API_KEY_SECRET_ENV) or "").strip()
    return read_api_key_secret(secret_id) if secret_id else None


def aws_session() -> botocore.session.Session:
    """Return a botocore session for Nova Act: region us-east-1, every client bounded by ``AWS_CLIENT_CONFIG``."""
    core = botocore.session.get_session()
    core.set_config_variable("region", NOVA_ACT_REGION)
    core.set_default_client_config(AWS_CLIENT_CONFIG)
    return core


def resolve_auth() -> Auth:
    """Check, before touching the SDK, that it is installed and that some credentials exist.

    The credential lookup is boto3's chain (environment, shared files, container and instance
    metadata; the last is skipped with ``AWS_EC2_METADATA_DISABLED=true`` and otherwise bounded by
    botocore's 1 s metadata timeout). No Nova Act endpoint is contacted.

    Returns
    -------
    Auth

    Raises
    ------
    NovaActSetupError
        Naming everything that is missing.
    """
    problems = [] if sdk_installed() else [MISSING_SDK]
    key = api_key()
    session = None
    if key is None:
        session = aws_session()
        if session.get_credentials() is None:
            problems.append(MISSING_CREDENTIALS)
    if problems:
        raise NovaActSetupError(*problems)
    return Auth(api_key=key, botocore_session=session)


def workflow_arguments(auth: Auth) -> dict[str, Any]:
    """Return the keyword arguments of the SDK's ``@workflow(...)`` for this authentication.

    The API key is passed explicitly: with ``NOVA_ACT_API_KEY`` set and no explicit key, the SDK
    raises ``AuthError`` (ambiguous authentication).
    """
    arguments: dict[str, Any] = {"model_id": MODEL_ID, "workflow_definition_name": workflow_definition_name()}
    if auth.api_key is not None:
        arguments["nova_act_api_key"] = auth.api_key
    else:
        arguments["boto_session_kwargs"] = {"botocore_session": auth.botocore_session, "region_name": NOVA_ACT_REGION}
        arguments["boto_config"] = AWS_CLIENT_CONFIG
    return arguments


def _plain(message: str) -> str:
    """Flatten the SDK's ASCII-box messages (``* text *`` lines) into one line."""
    lines = (line.strip().strip("*").strip() for line in message.splitlines())
    return " ".join(line for line in lines if line)


def nova_act_workflow(func: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Run ``func(payload)`` under the SDK's ``@workflow(...)``, applied at call time.

    The SDK is imported lazily and the authentication decided per call, so the decorator cannot
    be applied at import time. Before the SDK is touched, the payload is validated and the
    credentials checked; the SDK's ``AuthError``/``IAMAuthError`` become :class:`NovaActSetupError`.
    """

    @functools.wraps(func)
    def run(payload: Any) -> Any:
        parse_request(payload)
        auth = resolve_auth()
        sdk = importlib.import_module("nova_act")
        errors = importlib.import_module("nova_act.types.errors")
        try:
            return sdk.workflow(**workflow_arguments(auth))(func)(payload)
        except errors.AuthError as exc:
            raise NovaActSetupError(f"Nova Act refused the authentication: {_plain(str(exc))}") from None
        except errors.IAMAuthError as exc:
            raise NovaActSetupError(
                f"Nova Act could not use the AWS credentials: {_plain(str(exc))} (they need nova-act permissions "
                f"on workflow definition {workflow_definition_name()} and network access to {NOVA_ACT_REGION})"
            ) from None

    return run


@nova_act_workflow
def main(payload: Any) -> dict[str, Any]:
    """Open the page and carry out the task with Nova Act; the return value is the step output.

    Parameters
    ----------
    payload : dict
        ``{"url", "task", "schema"?, "max_steps"?, "timeout"?}`` (see ``parse_request``).

    Returns
    -------
    dict
        ``{"url", "task", "response", "parsed", "valid_json", "matches_schema", "steps_taken",
        "metadata": {"session_id", "act_id", "num_steps_executed", "start_time", "end_time",
        "time_worked_s"}, "workflow_definition_name", "workflow_run_id"}``. ``parsed`` is the
        answer parsed against ``schema`` (default ``{"type": "string"}``).

    Examples
    --------
    >>> main({"url": "https://nova.amazon.com/act", "task": "Find the heading of the page"})  # doctest: +SKIP
    {'url': 'https://nova.amazon.com/act', 'task': 'Find the heading of the page', 'response': '...', ...}
    """
    request = parse_request(payload)
    sdk = importlib.import_module("nova_act")
    options: dict[str, Any] = {key: getattr(request, key) for key in ("max_steps", "timeout") if getattr(request, key)}
    if request.schema is not None:
        options["schema"] = request.schema
    with sdk.NovaAct(starting_page=request.url, headless=True, tty=False) as nova:
        result = nova.act_get(request.task, **options)
    current = sdk.get_current_workflow()
    metadata = result.metadata
    return {
        "url": request.url,
        "task": request.task,
        "response": result.response,
        "parsed": result.parsed_response,
        "valid_json": result.valid_json,
        "matches_schema": result.matches_schema,
        "steps_taken": metadata.num_steps_executed,
        "metadata": {
            "session_id": metadata.session_id,
            "act_id": metadata.act_id,
            "num_steps_executed": metadata.num_steps_executed,
            "start_time": metadata.start_time,
            "end_time": metadata.end_time,
            "time_worked_s": metadata.time_worked_s,
        },
        "workflow_definition_name": current.workflow_definition_name if current else workflow_definition_name(),
        "workflow_run_id": current.workflow_run_id if current else None,
    }


@app.entrypoint
@async_step(app)
def invoke(payload: Any) -> dict[str, Any]:
    """AgentCore entrypoint: run ``main(payload)``; ``/ping`` reports HealthyBusy meanwhile.

    In an async step (``"mode": "async"``) the request is answered at once and the browser work
    ends the step with ``SendTaskSuccess``/``SendTaskFailure`` (:mod:`stepgraph_runtime.async_agent`);
    a missing SDK or credentials then fail it ``AGENT_ERROR`` with the same message.

    Runs in BedrockAgentCoreApp's thread pool (a sync handler), where Playwright's sync API may run.

    Raises
    ------
    ValueError, NovaActSetupError
        Answered by BedrockAgentCoreApp as HTTP 500 ``{"error": <message>}``.
    """
    task_id = app.add_async_task("nova_act_workflow", {"workflow_definition_name": workflow_definition_name()})
    try:
        result = main(payload)
    finally:
        app.complete_async_task(task_id)
    logger.info(
        "workflow %s run %s took %s steps", result["workflow_definition_name"], result["workflow_run_id"], result["steps_taken"]
    )
    return result


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "8080")))
