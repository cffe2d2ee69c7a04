"""Errors about a deployed app, and the edge where AWS errors become them.

AWS errors are converted at this edge into :class:`DeploymentError` subclasses whose message says
how to fix the problem (missing credentials, missing region, access denied, stack not deployed …).
boto3 is imported inside the functions (here and in the sibling modules): the core stays
importable without it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from ..exceptions import StepgraphError

_CREDENTIALS_HINT = "no AWS credentials: run `aws configure` or set AWS_PROFILE"
_REGION_HINT = "no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION (or a region in your AWS profile)"


class DeploymentError(StepgraphError):
    """Base class of the errors about a deployed app; each message says how to fix it."""


class NotDeployedError(DeploymentError):
    """A stack of the app does not exist (or failed) in the region.

    Attributes
    ----------
    stacks:
        The stack names that are missing or unusable.
    region:
        The region that was searched.
    """

    def __init__(self, message: str, *, stacks: tuple[str, ...] = (), region: str | None = None) -> None:
        super().__init__(message)
        self.stacks = stacks
        self.region = region


class _UnknownNameError(DeploymentError):
    kind = "name"

    def __init__(self, name: str, deployed: Mapping[str, Any] | tuple[str, ...], *, stack: str = "") -> None:
        self.name = name
        self.deployed = tuple(sorted(deployed))
        listed = ", ".join(self.deployed) if self.deployed else "none"
        where = f" in stack {stack}" if stack else ""
        super().__init__(f"no deployed {self.kind} {name!r}{where} (deployed: {listed}); "
                         "deploy it with `npx cdk deploy --all` or check the --prefix and --region")


class UnknownWorkflowError(_UnknownNameError):
    """No state machine is deployed for that workflow name. ``name`` and ``deployed`` say which."""

    kind = "workflow"


class UnknownAgentError(_UnknownNameError):
    """No AgentCore runtime is deployed for that agent id. ``name`` and ``deployed`` say which."""

    kind = "agent"


class UnknownTargetError(DeploymentError):
    """A log target is neither a deployed workflow nor a deployed agent, or it is both."""


class CredentialsError(DeploymentError):
    """boto3 found no AWS credentials."""


class RegionError(DeploymentError):
    """boto3 found no AWS region."""


class AwsCallError(DeploymentError):
    """An AWS API call failed.

    Attributes
    ----------
    operation:
        The API operation (``StartExecution`` …).
    aws_code:
        AWS's error code (``AccessDeniedException`` …).
    """

    def __init__(self, message: str, *, operation: str | None = None, aws_code: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.aws_code = aws_code


class ExecutionWaitTimeoutError(DeploymentError):
    """An execution did not end within ``timeout_seconds``; it keeps running. ``execution_arn`` names it."""

    def __init__(self, message: str, *, execution_arn: str) -> None:
        super().__init__(message)
        self.execution_arn = execution_arn


class AgentInvocationError(DeploymentError):
    """An agent runtime call failed.

    Attributes
    ----------
    code:
        The stepgraph error code (SPEC §7): ``AGENT_ERROR``, ``RATE_LIMIT``, ``TIMEOUT`` or
        ``VALIDATION_ERROR``.
    aws_code:
        AWS's error code, when the failure came from AWS.
    """

    def __init__(self, message: str, *, code: str = "AGENT_ERROR", aws_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.aws_code = aws_code


class LogGroupNotFoundError(DeploymentError):
    """The log group of a target does not exist (yet)."""


class ActStateError(DeploymentError):
    """The Nova Act CLI's existing state file cannot be read; it is left untouched."""


def aws_error(exc: BaseException, action: str = "") -> DeploymentError | None:
    """Convert a botocore exception to a :class:`DeploymentError` that says how to fix it.

    Parameters
    ----------
    exc:
        Any exception.
    action:
        What was being done, for the message (``"reading stack StepgraphWorkflows"``).

    Returns
    -------
    DeploymentError or None
        ``None`` when ``exc`` is not a botocore exception (let it propagate unchanged).

    Examples
    --------
    >>> from botocore.exceptions import NoCredentialsError
    >>> str(aws_error(NoCredentialsError()))
    'no AWS credentials: run `aws configure` or set AWS_PROFILE'
    """
    try:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )
    except ImportError:  # pragma: no cover - boto3 is a dependency of every caller
        return None
    doing = f"{action}: " if action else ""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return CredentialsError(_CREDENTIALS_HINT)
    if isinstance(exc, NoRegionError):
        return RegionError(_REGION_HINT)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = error.get("Message") or str(exc)
        operation = getattr(exc, "operation_name", None)
        text = f"{doing}{operation or 'AWS call'} failed ({code}): {message}"
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"):
            text += "; refresh your credentials (`aws sso login`, or a new session token)"
        elif code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            text += "; the caller's IAM identity needs that permission"
        return AwsCallError(text, operation=operation, aws_code=code)
    if isinstance(exc, EndpointConnectionError):
        return AwsCallError(f"{doing}cannot reach AWS ({exc}); check the network and the --region", aws_code=type(exc).__name__)
    if isinstance(exc, BotoCoreError):
        return AwsCallError(f"{doing}{type(exc).__name__}: {exc}", aws_code=type(exc).__name__)
    return None


@contextmanager
def _aws(action: str = "") -> Iterator[None]:
    """Turn botocore exceptions raised in the block into :class:`DeploymentError`."""
    try:
        yield
    except DeploymentError:
        raise
    except Exception as exc:
        converted = aws_error(exc, action)
        if converted is None:
            raise
        raise converted from exc


def _client(service: str, region: str | None, client: Any = None, **kwargs: Any) -> Any:
    if client is not None:
        return client
    import boto3

    # botocore reads AWS_DEFAULT_REGION and the profile; the AWS CLI v2 and Lambda also use AWS_REGION.
    region = region or os.environ.get("AWS_REGION") or None
    with _aws():
        return boto3.client(service, region_name=region, **kwargs)


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None
