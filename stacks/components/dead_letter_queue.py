"""An encrypted, TLS-only SQS dead-letter queue that raises an alarm as soon as it holds a message."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .alarm_topic import AlarmTopic
from .nag import acknowledge

__all__ = ["DeadLetterQueue", "DEAD_LETTER_RETENTION_DAYS"]

#: How long an undelivered message waits for a person, in days: SQS's maximum (14 days).
#: A number, not a ``cdk.Duration``: importing ``stacks`` makes no jsii call (see ``app.py``).
DEAD_LETTER_RETENTION_DAYS = 14


class DeadLetterQueue(Construct):
    """Where deliveries that failed every retry wait, with an alarm on its depth.

    The queue is encrypted with SQS-managed keys (SSE-SQS), denies requests without TLS
    (``enforce_ssl``) and keeps messages for 14 days (SQS's maximum). SSE-SQS rather than a
    customer-managed key: SNS, EventBridge, EventBridge Scheduler and Lambda can all send to an
    SSE-SQS queue without a key policy, so nothing is lost to a missing KMS grant. The services
    that send here get ``sqs:SendMessage`` from the construct that wires them (the SNS
    subscription, the rule target, the schedule target, the function's on-failure destination).

    The alarm fires when ``ApproximateNumberOfMessagesVisible`` is above 0 for one minute
    (maximum over the minute), and notifies ``alarm_topic``; missing data is not breaching.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    purpose:
        What lands here, in a few words ("chained workflow starts"); names the alarm's
        description.
    alarm_topic:
        Receives the alarm's notifications. Default: none (the alarm only shows in CloudWatch).
    removal_policy:
        What ``cdk destroy`` does with the queue. Default ``RemovalPolicy.RETAIN``: messages in
        it are failed deliveries a person has not looked at yet.

    Attributes
    ----------
    queue:
        The queue.
    alarm:
        The alarm on its depth.

    Examples
    --------
    >>> dlq = DeadLetterQueue(stack, "ChainDeadLetters", purpose="chained workflow starts",
    ...                       alarm_topic=alarms)  # doctest: +SKIP
    >>> sns.Subscription(stack, "Sub", topic=topic, endpoint=fn.function_arn,
    ...                  protocol=sns.SubscriptionProtocol.LAMBDA, dead_letter_queue=dlq.queue)  # doctest: +SKIP
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        purpose: str,
        alarm_topic: AlarmTopic | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(DEAD_LETTER_RETENTION_DAYS),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue (of an SNS subscription, an EventBridge or "
            "Scheduler target, or a function's asynchronous invocations); a queue behind it would "
            "only move the same messages once more. Its depth has an alarm instead.",
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DepthAlarm",
            alarm_description=f"Undelivered {purpose} are waiting in {self.node.path}: inspect and redrive them",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if alarm_topic is not None:
            alarm_topic.notify(self.alarm)
