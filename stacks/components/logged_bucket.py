"""An S3 bucket that is private, encrypted, TLS-only, versioned and writes server access logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .nag import acknowledge

__all__ = ["LoggedBucket"]


class LoggedBucket(Construct):
    """A data bucket plus the bucket that receives its server access logs.

    Both buckets block every kind of public access, deny requests made without TLS
    (``enforce_ssl``) and are encrypted with S3-managed keys (SSE-S3). SSE-S3 rather than
    SSE-KMS: a server access log target cannot use SSE-KMS, and readers of the data bucket
    (downstream Lambdas, people in the console) need no key grant.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    removal_policy:
        What ``cdk destroy`` does with both buckets. Default ``RemovalPolicy.RETAIN``.
    access_log_days:
        Days the access log bucket keeps each log object. Default ``365``.
    noncurrent_version_days:
        Days the data bucket keeps an overwritten object version. Default ``90``.
    access_log_bucket:
        An existing access-log bucket to log into (``access_log_days`` is then ignored).
        Default: none, create one.
    access_log_prefix:
        Key prefix of this bucket's access logs. Default ``"access-logs/"``.

    Attributes
    ----------
    bucket:
        The data bucket.
    access_log_bucket:
        The bucket receiving ``bucket``'s server access logs (under ``access-logs/``).

    Examples
    --------
    >>> results = LoggedBucket(stack, "Results", removal_policy=cdk.RemovalPolicy.RETAIN)  # doctest: +SKIP
    >>> results.bucket.grant_put(role, "results/*")  # doctest: +SKIP
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        access_log_days: int = 365,
        noncurrent_version_days: int = 90,
        access_log_bucket: s3.IBucket | None = None,
        access_log_prefix: str = "access-logs/",
    ) -> None:
        super().__init__(scope, construct_id)
        destroy = removal_policy == cdk.RemovalPolicy.DESTROY
        if access_log_bucket is not None:
            self.access_log_bucket = access_log_bucket
        else:
            self.access_log_bucket = self._create_access_log_bucket(access_log_days, removal_policy)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=access_log_prefix,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=cdk.Duration.days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )

    def _create_access_log_bucket(self, access_log_days: int, removal_policy: cdk.RemovalPolicy) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # Object ownership left to CDK: with @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy
            # (cdk.json) S3 delivers through a bucket policy; without it CDK needs ObjectWriter.
            lifecycle_rules=[s3.LifecycleRule(id="ExpireAccessLogs", expiration=cdk.Duration.days(access_log_days))],
            removal_policy=removal_policy,
            auto_delete_objects=removal_policy == cdk.RemovalPolicy.DESTROY,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This is the server access log bucket itself; logging it into itself would log its "
            "own log deliveries without end.",
        )
        return bucket
