"""Deployment settings read from the CDK context (``cdk.json`` or ``cdk synth -c key=value``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

__all__ = ["Settings", "CONTEXT_PREFIX", "load_cdk_json_context", "retention_days"]

#: Every setting of this app lives under ``stepgraph:`` in the CDK context.
CONTEXT_PREFIX = "stepgraph:"

_REMOVAL_POLICIES = {"retain": cdk.RemovalPolicy.RETAIN, "destroy": cdk.RemovalPolicy.DESTROY}


def load_cdk_json_context(path: str | Path) -> dict[str, Any]:
    """Return the ``context`` object of a ``cdk.json`` (feature flags and ``stepgraph:`` settings).

    The CDK CLI reads ``cdk.json`` and hands its context to the app; ``python app.py`` and
    the tests run without the CLI, so they pass this to ``cdk.App(context=...)`` to get the
    same feature flags and settings.

    Parameters
    ----------
    path:
        The ``cdk.json`` file.

    Returns
    -------
    dict[str, Any]
        Its ``context`` (empty when it has none).
    """
    return dict(json.loads(Path(path).read_text(encoding="utf-8")).get("context", {}))


def retention_days(days: int) -> logs.RetentionDays:
    """Return the ``RetentionDays`` member whose length is ``days``.

    CloudWatch Logs accepts only certain lengths (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180,
    365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days).

    Parameters
    ----------
    days:
        Number of days to keep log events.

    Returns
    -------
    aws_cdk.aws_logs.RetentionDays
        The matching member.

    Raises
    ------
    ValueError
        When CloudWatch Logs does not offer ``days`` as a retention length.

    Examples
    --------
    >>> retention_days(30).name
    'ONE_MONTH'
    """
    member = _RETENTION_BY_DAYS.get(days)
    if member is None:
        raise ValueError(
            f"stepgraph:logRetentionDays={days} is not a CloudWatch Logs retention length; "
            f"choose one of {sorted(_RETENTION_BY_DAYS)}"
        )
    return getattr(logs.RetentionDays, member)


# The jsii enum's Python values are member names ("ONE_MONTH"), not day counts, so the
# lengths are written down here (CloudWatch Logs PutRetentionPolicy's allowed values).
_RETENTION_BY_DAYS: dict[int, str] = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


@dataclass(frozen=True)
class Settings:
    """Settings of one deployment of the app.

    Each attribute has a context key (``stepgraph:<name>``) and a default; ``cdk.json`` holds
    the values this repository deploys with.

    Attributes
    ----------
    stack_prefix:
        Prefix of the stack names (``<prefix>Results``, ``<prefix>Agents``,
        ``<prefix>Workflows``) and of the state machine names. Context
        ``stepgraph:stackPrefix``; default ``"Stepgraph"``.
    log_retention_days:
        Retention of every log group the app creates. Context ``stepgraph:logRetentionDays``;
        default ``30``.
    removal_policy:
        What ``cdk destroy`` does with data (results buckets, ECR repositories, the topic's KMS
        key, log groups): ``"retain"`` or ``"destroy"``. Context ``stepgraph:removalPolicy``;
        default ``"retain"``.
    images_to_keep:
        Number of images each agent's ECR repository keeps; older ones expire. Context
        ``stepgraph:imagesToKeep``; default ``10``.
    powertools_version:
        Version of the AWS-managed Powertools for AWS Lambda (Python) v3 layer the Lambda
        handlers use. Keep it equal to the ``aws-lambda-powertools`` pin in ``pyproject.toml``
        so local runs and Lambda run the same library. Context ``stepgraph:powertoolsVersion``;
        default ``"3.37.0"``.
    powertools_layer_arn:
        An explicit layer version ARN that overrides ``powertools_version`` (for a region or
        partition without the public SSM parameter). Context ``stepgraph:powertoolsLayerArn``;
        default ``None``.
    nag:
        Whether cdk-nag's AwsSolutions checks run on synth. Context ``stepgraph:nag``;
        default ``True``.
    """

    stack_prefix: str = "Stepgraph"
    log_retention_days: int = 30
    removal_policy: str = "retain"
    images_to_keep: int = 10
    powertools_version: str = "3.37.0"
    powertools_layer_arn: str | None = None
    nag: bool = True

    def __post_init__(self) -> None:
        if self.removal_policy not in _REMOVAL_POLICIES:
            raise ValueError(
                f"stepgraph:removalPolicy must be one of {sorted(_REMOVAL_POLICIES)}, not {self.removal_policy!r}"
            )
        if self.images_to_keep < 1:
            raise ValueError(f"stepgraph:imagesToKeep must be at least 1, not {self.images_to_keep}")
        retention_days(self.log_retention_days)  # raises on a length CloudWatch Logs lacks

    @property
    def retention(self) -> logs.RetentionDays:
        """The log retention as a ``RetentionDays`` member."""
        return retention_days(self.log_retention_days)

    @property
    def cdk_removal_policy(self) -> cdk.RemovalPolicy:
        """``removal_policy`` as a ``cdk.RemovalPolicy``."""
        return _REMOVAL_POLICIES[self.removal_policy]

    @classmethod
    def from_context(cls, scope: Construct) -> "Settings":
        """Read the settings from ``scope``'s CDK context, falling back to the defaults.

        Parameters
        ----------
        scope:
            Any construct of the app (usually the ``cdk.App``).

        Returns
        -------
        Settings
            The settings in force.

        Raises
        ------
        ValueError
            When a value is out of range (see the attributes).
        """

        def get(name: str, default):
            value = scope.node.try_get_context(CONTEXT_PREFIX + name)
            return default if value is None else value

        defaults = cls()
        return cls(
            stack_prefix=str(get("stackPrefix", defaults.stack_prefix)),
            log_retention_days=int(get("logRetentionDays", defaults.log_retention_days)),
            removal_policy=str(get("removalPolicy", defaults.removal_policy)).lower(),
            images_to_keep=int(get("imagesToKeep", defaults.images_to_keep)),
            powertools_version=str(get("powertoolsVersion", defaults.powertools_version)),
            powertools_layer_arn=get("powertoolsLayerArn", defaults.powertools_layer_arn) or None,
            nag=_as_bool(get("nag", defaults.nag)),
        )


def _as_bool(value) -> bool:
    # `cdk synth -c stepgraph:nag=false` passes the string "false".
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)
