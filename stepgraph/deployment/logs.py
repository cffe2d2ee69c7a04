"""Recent CloudWatch log events of a deployed workflow or agent: :func:`recent_logs`."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from .errors import LogGroupNotFoundError, UnknownTargetError, _aws, _client, _error_code
from .outputs import RUNTIME_ENDPOINT, Deployment, _runtime_id


def _log_group_name(arn: str) -> str:
    """``arn:aws:logs:<region>:<acct>:log-group:<name>:*`` → ``<name>``."""
    name = arn.split(":log-group:", 1)[1] if ":log-group:" in arn else arn
    return name[:-2] if name.endswith(":*") else name


def _log_group_of(target: str, deployment: Deployment, stepfunctions: Any = None) -> tuple[str, str]:
    """``(kind, log group name)`` of a workflow name or agent id (``workflow:``/``agent:`` disambiguate)."""
    kind, _, name = target.partition(":") if target.startswith(("workflow:", "agent:")) else ("", "", target)
    is_workflow = kind in ("", "workflow") and name in deployment.state_machines
    is_agent = kind in ("", "agent") and name in deployment.runtimes
    if is_workflow and is_agent:
        raise UnknownTargetError(f"{name!r} is both a workflow and an agent: say workflow:{name} or agent:{name}")
    if is_agent:
        return "agent", f"/aws/bedrock-agentcore/runtimes/{_runtime_id(deployment.runtimes[name])}-{RUNTIME_ENDPOINT}"
    if not is_workflow:
        raise UnknownTargetError(
            f"{target!r} is neither a deployed workflow ({', '.join(sorted(deployment.state_machines)) or 'none'}) "
            f"nor a deployed agent ({', '.join(sorted(deployment.runtimes)) or 'none'})")
    arn = deployment.state_machines[name]
    stepfunctions = _client("stepfunctions", deployment.region, stepfunctions)
    with _aws(f"reading the logging configuration of workflow {name}"):
        description = stepfunctions.describe_state_machine(stateMachineArn=arn)
    destinations = (description.get("loggingConfiguration") or {}).get("destinations") or []
    group_arn = ((destinations[0] if destinations else {}).get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
    if not group_arn:
        raise LogGroupNotFoundError(f"workflow {name}'s state machine logs nowhere (no loggingConfiguration); "
                                    "redeploy with `npx cdk deploy --all`")
    return "workflow", _log_group_name(group_arn)


def recent_logs(target: str, *, deployment: Deployment, since_seconds: float = 600, logs: Any = None,
                stepfunctions: Any = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recent log events of a deployed workflow or agent, oldest first (newest last).

    Parameters
    ----------
    target:
        A workflow name (its state machine's log group, read from ``DescribeStateMachine``'s
        ``loggingConfiguration``) or an agent id (``/aws/bedrock-agentcore/runtimes/<runtime
        id>-DEFAULT``). Prefix with ``workflow:`` or ``agent:`` when a name is both.
    deployment:
        From :func:`load_deployment`.
    since_seconds:
        How far back to read. Default ``600`` (10 minutes).
    logs, stepfunctions:
        boto3 clients; default ones for ``deployment.region``.
    limit:
        Keep at most the newest ``limit`` events. Default ``100``.

    Returns
    -------
    list[dict]
        ``{"timestamp": ISO-8601 UTC, "message", "log_stream"}``, newest last.

    Raises
    ------
    UnknownTargetError
        When the target is neither a deployed workflow nor a deployed agent (or ambiguous).
    LogGroupNotFoundError
        When the log group does not exist yet.

    Examples
    --------
    >>> for event in recent_logs("support_agent", deployment=load_deployment(), since_seconds=3600):  # doctest: +SKIP
    ...     print(event["timestamp"], event["message"])
    """
    kind, group = _log_group_of(target, deployment, stepfunctions)
    logs = _client("logs", deployment.region, logs)
    start = int((time.time() - since_seconds) * 1000)
    from botocore.exceptions import ClientError

    events: list[dict[str, Any]] = []
    with _aws(f"reading log group {group}"):
        try:
            paginator = logs.get_paginator("filter_log_events")
            for page in paginator.paginate(logGroupName=group, startTime=start):
                events += page.get("events", [])
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                hint = ("the runtime creates it at its first session: invoke the agent first"
                        if kind == "agent" else "redeploy with `npx cdk deploy --all`")
                raise LogGroupNotFoundError(f"log group {group} does not exist in {deployment.region}: {hint}") from exc
            raise
    events.sort(key=lambda e: (e.get("timestamp", 0), e.get("ingestionTime", 0)))
    kept = events[-limit:] if limit else events
    return [{
        "timestamp": datetime.fromtimestamp(e.get("timestamp", 0) / 1000, timezone.utc).isoformat(timespec="milliseconds"),
        "message": str(e.get("message", "")).rstrip("\n"),
        "log_stream": e.get("logStreamName"),
    } for e in kept]
