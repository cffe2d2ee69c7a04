"""Commands for a deployed app (SPEC §8, §11): deploy-state, invoke, logs, approvals.

They decorate the ``stepgraph`` typer app of :mod:`stepgraph.cli_app` (``stepgraph.cli`` imports
this module so they are registered; this module never imports ``stepgraph.cli``), and
read the deployment from the stacks' outputs (:func:`stepgraph.deployment.load_deployment`).
Every command takes ``--prefix`` (default: ``cdk.json``'s ``stepgraph:stackPrefix`` when run in a
project, else ``Stepgraph``), ``--region`` (default: boto3's) and ``--json`` (one JSON document on
stdout). Errors print one sentence on stderr (and ``{"error": ...}`` on stdout with ``--json``)
and exit 1, without a stack trace.
"""

from __future__ import annotations

import json
import re
import warnings
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Optional

import typer
from rich.markup import escape

from .agents import discover_agents
from .cli_app import app, emit_json, err, find_project_root, out
from .exceptions import StepgraphError
from .project import Project

__all__ = ["approvals_app", "invoke_app", "parse_duration", "stack_prefix"]

invoke_app = typer.Typer(no_args_is_help=True, help="Start a deployed workflow or agent runtime and print its result.")
approvals_app = typer.Typer(no_args_is_help=True, help="List, approve and reject the human approvals of a deployed app.")
app.add_typer(invoke_app, name="invoke")
app.add_typer(approvals_app, name="approvals")

_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired", "all")


class CommandInputError(StepgraphError):
    """An option's value cannot be used (bad JSON, bad duration …)."""


# --------------------------------------------------------------------------- helpers


def stack_prefix(root: Path | None = None) -> str:
    """The stack prefix: ``cdk.json`` context ``stepgraph:stackPrefix`` of the project, else ``Stepgraph``."""
    folder = root or find_project_root(Path.cwd())
    try:
        context = json.loads((folder / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    except (OSError, ValueError, AttributeError):
        return "Stepgraph"
    value = context.get("stepgraph:stackPrefix") if isinstance(context, dict) else None
    return str(value) if value else "Stepgraph"


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``10m``, ``2h``, ``1d``, ``500ms`` or a bare number of seconds.

    Examples
    --------
    >>> parse_duration("10m")
    600.0
    """
    match = _DURATION.match(text)
    if not match:
        raise CommandInputError(f"--since {text!r} is not a duration: write it like 30s, 10m, 2h or 1d")
    return float(match.group("value")) * _UNITS[match.group("unit")]


def _read_document(value: Optional[str], option: str) -> Any:
    """A JSON document given inline or as a path to a JSON file (``{}`` when absent)."""
    if value is None:
        return {}
    candidate = Path(value)
    if not value.lstrip().startswith(("{", "[", '"')) and candidate.is_file():
        value = candidate.read_text(encoding="utf-8")
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise CommandInputError(f"{option} is neither a JSON document nor a path to a JSON file ({exc})") from exc


def _fail(exc: BaseException, as_json: bool) -> None:
    if as_json:
        document: dict[str, Any] = {"error": str(exc), "type": type(exc).__name__}
        if getattr(exc, "code", None):
            document["code"] = exc.code  # type: ignore[attr-defined]
        emit_json(document)
    err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Print stepgraph and AWS errors as one sentence and exit 1."""
    from .deployment import aws_error

    try:
        yield
    except typer.Exit:
        raise
    except StepgraphError as exc:
        _fail(exc, as_json)
    except Exception as exc:
        converted = aws_error(exc)
        if converted is None:
            raise
        _fail(converted, as_json)


def _deployment(prefix: Optional[str], region: Optional[str], project: Any = None):
    from .deployment import load_deployment

    return load_deployment(prefix or stack_prefix(), region=region, project=project)


def _agents_project() -> Project:
    """The project's agents (workflows are not needed, so an invalid workflow file does not matter)."""
    root = find_project_root(Path.cwd())
    agents = discover_agents(root / "agents")
    return Project(root=root, workflows=MappingProxyType({}), agents=MappingProxyType(agents))


PREFIX = typer.Option(None, "--prefix", help="Stack prefix; default cdk.json's stepgraph:stackPrefix, else Stepgraph.")
REGION = typer.Option(None, "--region", help="AWS region; default boto3's (AWS_REGION, the profile …).")
JSON = typer.Option(False, "--json", help="Print one JSON document on stdout.")


# --------------------------------------------------------------------------- deploy-state


@app.command("deploy-state")
def deploy_state(prefix: Optional[str] = PREFIX, region: Optional[str] = REGION,
                 python_agents: bool = typer.Option(True, "--python-agents/--nova-act-only",
                                                    help="Also list non-Nova-Act agents, keyed by agent id."),
                 home: Optional[Path] = typer.Option(None, "--home", help="Home folder holding .act_cli/ (default ~)."),
                 as_json: bool = JSON) -> None:
    """Write the Nova Act CLI's state file (~/.act_cli/state/<account>/<region>/workflows.json) for the deployed agents."""
    from .deployment import write_act_state

    with _errors(as_json):
        project = _agents_project()
        if not project.agents:
            raise CommandInputError(f"no agents/ folder with agents at or above {Path.cwd()}: "
                                    "run stepgraph deploy-state in the project checkout")
        deployment = _deployment(prefix, region, project)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = write_act_state(deployment, project, home=home, include_python_agents=python_agents)
        notes = [str(w.message) for w in caught]
        state = json.loads(path.read_text(encoding="utf-8"))
        arns = set(deployment.runtimes.values())
        written = {name: entry["deployments"]["agentcore"]["deployment_arn"]
                   for name, entry in sorted(state["workflows"].items())
                   if isinstance(entry, dict) and (entry.get("deployments") or {}).get("agentcore", {}).get("deployment_arn") in arns}
    if as_json:
        emit_json({"path": str(path), "account": deployment.account, "region": deployment.region,
                    "workflows": written, "warnings": notes})
        return
    for note in notes:
        err.print(f"[yellow]warning:[/] {escape(note)}", highlight=False)
    out.print(f"wrote {path}", highlight=False, markup=False)
    for name, arn in written.items():
        out.print(f"  {name}  {arn}", highlight=False, markup=False)


# --------------------------------------------------------------------------- invoke


@invoke_app.command("workflow")
def invoke_workflow_command(
        name: str = typer.Argument(..., help="Workflow name (as in its file's \"name\")."),
        input: Optional[str] = typer.Option(None, "--input", "-i", help="Execution input: a JSON document or a path to one."),
        execution_name: Optional[str] = typer.Option(None, "--name", help="Execution name; default cli-<utc>-<hex>."),
        timeout: Optional[float] = typer.Option(None, "--timeout", help="Stop waiting after this many seconds (the execution keeps running)."),
        prefix: Optional[str] = PREFIX, region: Optional[str] = REGION, as_json: bool = JSON) -> None:
    """Start a deployed workflow, wait for it to end and print its result record; exit 0 when completed."""
    from .deployment import invoke_workflow

    seen: dict[str, Any] = {}

    def on_status(status: str, description: dict[str, Any]) -> None:
        seen["arn"] = description.get("executionArn")
        if not as_json:
            time = datetime.now().strftime("%H:%M:%S")
            err.print(f"[dim]{time}[/] execution [bold]{status}[/] [dim]{escape(str(seen['arn']))}[/]", highlight=False)

    with _errors(as_json):
        execution_input = _read_document(input, "--input")
        deployment = _deployment(prefix, region)
        try:
            record = invoke_workflow(deployment, name, execution_input, name=execution_name,
                                     timeout_seconds=timeout, on_status=on_status)
        except KeyboardInterrupt:
            err.print(f"stopped waiting; execution {seen.get('arn') or '(not started)'} keeps running", highlight=False)
            raise typer.Exit(130)
    status = record.get("status")
    if as_json:
        emit_json(record)
    else:
        out.print_json(json.dumps(record, ensure_ascii=False, default=str))
        if record.get("synthesized"):
            err.print("[yellow]note:[/] the execution wrote no result record; this one was made from DescribeExecution",
                      highlight=False)
        colour = "green" if status == "completed" else "red"
        err.print(f"[{colour}]{status}[/] · s3://{deployment.results_bucket}/results/{name}/{record.get('executionName')}.json",
                  highlight=False)
    raise typer.Exit(0 if status == "completed" else 1)


@invoke_app.command("agent")
def invoke_agent_command(
        agent_id: str = typer.Argument(..., help="Agent id (its folder under agents/)."),
        payload: Optional[str] = typer.Option(None, "--payload", "-p", help="Payload: a JSON document or a path to one (default {})."),
        session_id: Optional[str] = typer.Option(None, "--session-id", help="Runtime session id; default a new one."),
        qualifier: str = typer.Option("DEFAULT", "--qualifier", help="Runtime endpoint."),
        prefix: Optional[str] = PREFIX, region: Optional[str] = REGION, as_json: bool = JSON) -> None:
    """Invoke a deployed agent's AgentCore runtime and print its output (decoded like an agent step's)."""
    from .deployment import invoke_agent_runtime, new_session_id

    with _errors(as_json):
        body = _read_document(payload, "--payload")
        deployment = _deployment(prefix, region)
        session = session_id or new_session_id()
        output = invoke_agent_runtime(deployment, body, agent_id=agent_id, session_id=session, qualifier=qualifier)
    if as_json:
        emit_json(output)
        return
    err.print(f"[dim]session {escape(session)}[/]", highlight=False)
    out.print_json(json.dumps(output, ensure_ascii=False, default=str))


# --------------------------------------------------------------------------- logs


@app.command("logs")
def logs_command(
        target: str = typer.Argument(..., help="A workflow name or an agent id (prefix workflow: or agent: when a name is both)."),
        since: str = typer.Option("10m", "--since", help="How far back: 30s, 10m, 2h, 1d."),
        limit: int = typer.Option(100, "--limit", help="At most this many events (the newest)."),
        prefix: Optional[str] = PREFIX, region: Optional[str] = REGION, as_json: bool = JSON) -> None:
    """Print the recent log events of a deployed workflow (its state machine) or agent (its runtime), newest last."""
    from .deployment import recent_logs

    with _errors(as_json):
        seconds = parse_duration(since)
        deployment = _deployment(prefix, region)
        events = recent_logs(target, deployment=deployment, since_seconds=seconds, limit=limit)
    if as_json:
        emit_json(events)
        return
    if not events:
        err.print(f"no log events for {escape(target)} in the last {escape(since)}", highlight=False)
    for event in events:
        time = event["timestamp"][11:23]
        out.print(f"[dim]{time}[/] {escape(event['message'])}", highlight=False)


# --------------------------------------------------------------------------- approvals


def _store(deployment: Any):
    import boto3

    from .approvals import ApprovalStore
    from .deployment import DeploymentError

    if not deployment.approvals_table:
        raise DeploymentError(f"stack {deployment.prefix}Workflows has no approvals table: "
                              "no deployed workflow has a human_approval step")
    return ApprovalStore(deployment.approvals_table,
                         dynamodb=boto3.client("dynamodb", region_name=deployment.region),
                         stepfunctions=boto3.client("stepfunctions", region_name=deployment.region))


@approvals_app.command("list")
def approvals_list(
        status: str = typer.Option("pending", "--status", help=f"One of {', '.join(_APPROVAL_STATUSES)}."),
        prefix: Optional[str] = PREFIX, region: Optional[str] = REGION, as_json: bool = JSON) -> None:
    """List approval requests (default: the pending ones), oldest first."""
    with _errors(as_json):
        if status not in _APPROVAL_STATUSES:
            raise CommandInputError(f"--status must be one of {', '.join(_APPROVAL_STATUSES)}, not {status!r}")
        store = _store(_deployment(prefix, region))
        approvals = store.list(None if status == "all" else status)
    if as_json:
        emit_json([a.to_dict() for a in approvals])
        return
    if not approvals:
        err.print(f"no {'' if status == 'all' else status + ' '}approval requests", highlight=False)
        return
    for a in approvals:  # one block per request: ids are never cut, whatever the terminal's width
        out.print(f"[bold]{escape(a.approval_id)}[/]  {escape(a.status)}  {escape(a.workflow_name)} · {escape(a.step_id)}  "
                  f"[dim]approvers: {escape(', '.join(a.approvers))} · requested {escape(a.requested_at)} · "
                  f"expires {escape(a.expires_at)}[/]", highlight=False)
        out.print(f"    {escape(a.message)}", highlight=False)


def _decide(approval_id: str, decision: str, comment: str, api: Optional[str], token: Optional[str], as_json: bool) -> None:
    """Decide through the HTTP API: the decider is the identity the API verifies for ``token``, never a typed name."""
    from .api.client import TOKEN_ENV, URL_ENV, call_api

    with _errors(as_json):
        if not api or not token:
            raise CommandInputError(
                f"deciding needs the HTTP API and your token: --api URL (or {URL_ENV}; `stepgraph serve` prints it, "
                f"deployed it is the stack output ApiUrl) and --token (or {TOKEN_ENV}; on AWS a Cognito ID token)")
        approval = call_api(api, token, "POST", f"/api/approvals/{approval_id}", {"decision": decision, "comment": comment})
    if as_json:
        emit_json(approval)
        return
    colour = "green" if decision == "approved" else "red"
    out.print(f"[{colour}]{decision}[/] {escape(approval['approval_id'])} ({escape(approval['workflow_id'])} · "
              f"{escape(approval['step_id'])}) by {escape(str(approval['approver']))} "
              f"(verified by {escape(str(approval['approver_verified_by']))}); execution resumed", highlight=False)


API = typer.Option(None, "--api", envvar="STEPGRAPH_API_URL", help="Base URL of the HTTP API (stepgraph serve, or the deployed ApiUrl).")
TOKEN = typer.Option(None, "--token", envvar="STEPGRAPH_API_TOKEN", help="Your bearer token (a Cognito ID token on AWS).")


@approvals_app.command("approve")
def approvals_approve(
        approval_id: str = typer.Argument(..., help="The approval request's id (see `stepgraph approvals list`)."),
        comment: str = typer.Option("", "--comment", help="Passed to the workflow as comment."),
        api: Optional[str] = API, token: Optional[str] = TOKEN, as_json: bool = JSON) -> None:
    """Approve a request as the identity of your token: the execution continues with the step's next_steps."""
    _decide(approval_id, "approved", comment, api, token, as_json)


@approvals_app.command("reject")
def approvals_reject(
        approval_id: str = typer.Argument(..., help="The approval request's id (see `stepgraph approvals list`)."),
        comment: str = typer.Option("", "--comment", help="Passed to the workflow as comment."),
        api: Optional[str] = API, token: Optional[str] = TOKEN, as_json: bool = JSON) -> None:
    """Reject a request as the identity of your token: the execution continues with the step's else_steps, or fails with APPROVAL_REJECTED."""
    _decide(approval_id, "rejected", comment, api, token, as_json)
