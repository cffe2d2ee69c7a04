"""An on-demand DynamoDB table, KMS-encrypted, with point-in-time recovery and a TTL attribute."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

__all__ = ["encrypted_table"]


def encrypted_table(scope: Construct, construct_id: str, *, partition_key: str, ttl_attribute: str,
                    removal_policy: cdk.RemovalPolicy, sort_key: tuple[str, dynamodb.AttributeType] | None = None,
                    table_name: str | None = None) -> dynamodb.TableV2:
    """The table every stepgraph store uses (approvals, webhook replays, stream deltas).

    Encrypted with the AWS managed KMS key (not the default owned key: these tables hold task
    tokens or execution data), billed on demand, point-in-time recovery on, items expiring at
    ``ttl_attribute`` (epoch seconds). ``partition_key`` is a string attribute; ``sort_key`` is
    ``(name, type)``.
    """
    return dynamodb.TableV2(
        scope,
        construct_id,
        table_name=table_name,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key[0], type=sort_key[1]) if sort_key else None,
        billing=dynamodb.Billing.on_demand(),
        time_to_live_attribute=ttl_attribute,
        encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
        removal_policy=removal_policy,
    )
