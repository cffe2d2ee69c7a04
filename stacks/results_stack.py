"""Where every execution's result record lands: the results bucket and the results topic (SPEC §5)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from .components import EncryptedTopic, LoggedBucket
from .settings import Settings

__all__ = ["ResultsStack"]


class ResultsStack(cdk.Stack):
    """The S3 results bucket and the SNS results topic.

    Result records go to ``s3://<bucket>/results/<workflowName>/<executionName>.json`` and are
    announced on the topic with the message attributes ``workflowName`` and ``status``.

    Parameters
    ----------
    scope, construct_id:
        Where the stack goes.
    settings:
        Deployment settings (removal policy, log retention). Default ``Settings()``.
    **kwargs:
        Passed to ``cdk.Stack`` (``env``, ``description`` …).

    Attributes
    ----------
    results:
        The bucket and its access-log bucket (``results.bucket``).
    payloads:
        The bucket of offloaded step outputs (``payloads.bucket``); logs into the same
        access-log bucket.
    notifications:
        The topic and its KMS key (``notifications.topic``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or Settings()
        self.results = LoggedBucket(
            self,
            "Results",
            removal_policy=settings.cdk_removal_policy,
            access_log_days=max(settings.log_retention_days, 1),
        )
        # Step outputs too large for Step Functions' 256 KiB travel through here by reference
        # (stepgraph_runtime/offload.py); result records may point at them, so they stay.
        self.payloads = LoggedBucket(
            self,
            "Payloads",
            removal_policy=settings.cdk_removal_policy,
            access_log_bucket=self.results.access_log_bucket,
            access_log_prefix="access-logs/payloads/",
        )
        self.notifications = EncryptedTopic(
            self,
            "ResultsTopic",
            display_name="stepgraph workflow results",
            removal_policy=settings.cdk_removal_policy,
        )
        cdk.CfnOutput(
            self,
            "ResultsBucketName",
            value=self.results.bucket.bucket_name,
            description="S3 bucket receiving result records under results/<workflowName>/",
        )
        cdk.CfnOutput(
            self,
            "PayloadsBucketName",
            value=self.payloads.bucket.bucket_name,
            description="S3 bucket holding step outputs too large for Step Functions (payloads/<workflow>/...)",
        )
        cdk.CfnOutput(
            self,
            "ResultsTopicArn",
            value=self.notifications.topic.topic_arn,
            description="SNS topic announcing every result record (attributes workflowName, status)",
        )

    @property
    def bucket(self):
        """The results bucket."""
        return self.results.bucket

    @property
    def payloads_bucket(self):
        """The bucket of offloaded step outputs."""
        return self.payloads.bucket

    @property
    def topic(self):
        """The results topic."""
        return self.notifications.topic
