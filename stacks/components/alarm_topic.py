"""The encrypted, TLS-only SNS topic CloudWatch alarms of the app notify."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from constructs import Construct

from .encrypted_topic import EncryptedTopic

__all__ = ["AlarmTopic"]

_CLOUDWATCH = "cloudwatch.amazonaws.com"


class AlarmTopic(Construct):
    """An ``EncryptedTopic`` that CloudWatch alarms of this account and region can publish to.

    A topic encrypted with a customer-managed key only receives alarm notifications when
    CloudWatch may use the key (``kms:Decrypt``, ``kms:GenerateDataKey*``, per SNS's
    "Enable compatibility between event sources from AWS services and encrypted topics") and,
    because the TLS-only topic policy replaces SNS's default one, when the topic policy lets
    CloudWatch publish. Both statements name the CloudWatch service principal and carry
    ``aws:SourceAccount`` and ``aws:SourceArn`` (alarms of this account and region) conditions
    against the confused-deputy problem. Without them an alarm deploys cleanly and silently
    notifies no one.

    Subscribe people or tools to ``topic`` (e-mail, chat, incident tools) after deploying.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    display_name:
        The topic's display name. Default ``"stepgraph alarms"``.
    removal_policy:
        What ``cdk destroy`` does with the topic's KMS key. Default ``RemovalPolicy.RETAIN``.

    Attributes
    ----------
    notifications:
        The ``EncryptedTopic`` (``notifications.topic``, ``notifications.key``).
    topic:
        The topic.
    action:
        The alarm action that publishes to it.

    Examples
    --------
    >>> alarms = AlarmTopic(stack, "Alarms")  # doctest: +SKIP
    >>> alarms.notify(cloudwatch.Alarm(stack, "Failed", ...))  # doctest: +SKIP
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        display_name: str = "stepgraph alarms",
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.notifications = EncryptedTopic(self, "Notifications", display_name=display_name, removal_policy=removal_policy)
        self.topic = self.notifications.topic
        alarms = cdk.Stack.of(self).format_arn(
            service="cloudwatch", resource="alarm", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
        )
        conditions = {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": alarms}}
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal(_CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=conditions,
            )
        )
        self.notifications.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal(_CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # a key policy's resource is the key itself
                conditions=conditions,
            )
        )
        self.action = cloudwatch_actions.SnsAction(self.topic)

    def notify(self, alarm: cloudwatch.Alarm) -> None:
        """Send ``alarm``'s state changes to ALARM to the topic."""
        alarm.add_alarm_action(self.action)
