"""An SNS topic encrypted with its own customer-managed KMS key that refuses plain HTTP."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

__all__ = ["EncryptedTopic", "grant_publish"]


class EncryptedTopic(Construct):
    """An SNS topic encrypted with a customer-managed KMS key (rotation on), TLS only.

    The topic's resource policy denies ``sns:Publish`` without TLS (``enforce_ssl``, which
    adds a ``Deny`` when ``aws:SecureTransport`` is ``false``).

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    display_name:
        The topic's display name. Default: none.
    removal_policy:
        What ``cdk destroy`` does with the KMS key. Default ``RemovalPolicy.RETAIN``: messages
        still in flight, or archived by subscribers, stay readable.

    Attributes
    ----------
    topic:
        The topic.
    key:
        Its KMS key.

    Examples
    --------
    >>> results = EncryptedTopic(stack, "Results", display_name="stepgraph results")  # doctest: +SKIP
    >>> grant_publish(state_machine, results.topic, results.key)  # doctest: +SKIP
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        display_name: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the SNS topic {self.node.path}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=display_name,
            master_key=self.key,
            enforce_ssl=True,
        )



def grant_publish(grantee: iam.IGrantable, topic: sns.ITopic, key: kms.IKey | None = None) -> None:
    """Let ``grantee`` publish to ``topic``: ``sns:Publish`` and, for a KMS-encrypted topic,
    ``kms:GenerateDataKey`` and ``kms:Decrypt`` on its key.

    ``Topic.grant_publish`` grants ``kms:GenerateDataKey*``; SNS needs only the plain action,
    and naming it keeps the policy free of wildcards.

    Parameters
    ----------
    grantee:
        The publisher (a state machine, a function).
    topic:
        The topic.
    key:
        The topic's customer-managed key. Default: none (no KMS statement).
    """
    # Grant.add_to_principal: the same statements as add_to_principal_policy(PolicyStatement(...)),
    # built in one jsii call each instead of four
    iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[topic.topic_arn])
    if key is not None:
        iam.Grant.add_to_principal(grantee=grantee, actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                   resource_arns=[key.key_arn])
