"""ResultsStack: a private, encrypted, TLS-only results bucket and a KMS-encrypted, TLS-only topic."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.slow


def _denies_plain_http(statements: list[dict]) -> bool:
    return any(
        s.get("Effect") == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
    )


def test_results_bucket_is_encrypted_private_versioned_and_logged(fixture_app):
    template = fixture_app.template(fixture_app.stacks.results)
    bucket_id = fixture_app.stacks.results.resolve(fixture_app.stacks.results.bucket.node.default_child.logical_id)
    bucket = template.to_json()["Resources"][bucket_id]
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": fixture_app.stacks.results.resolve(
            fixture_app.stacks.results.results.access_log_bucket.node.default_child.logical_id
        )
    }
    assert bucket["DeletionPolicy"] == "Retain"


def test_every_bucket_denies_requests_without_tls(fixture_app):
    template = fixture_app.template(fixture_app.stacks.results)
    buckets = template.find_resources("AWS::S3::Bucket")
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(buckets) == 3  # results, payloads and their access-log bucket
    covered = {p["Properties"]["Bucket"]["Ref"] for p in policies.values() if _denies_plain_http(p["Properties"]["PolicyDocument"]["Statement"])}
    assert covered == set(buckets)
    for bucket in buckets.values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_results_topic_uses_a_rotating_customer_managed_key(fixture_app):
    template = fixture_app.template(fixture_app.stacks.results)
    keys = template.find_resources("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}})
    assert len(keys) == 1
    (key_id,) = keys
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})


def test_results_topic_policy_denies_publishing_without_tls(fixture_app):
    template = fixture_app.template(fixture_app.stacks.results)
    policies = template.find_resources("AWS::SNS::TopicPolicy")
    assert len(policies) == 1
    (policy,) = policies.values()
    assert _denies_plain_http(policy["Properties"]["PolicyDocument"]["Statement"])


def test_results_outputs_name_the_bucket_and_topic(fixture_app):
    template = fixture_app.template(fixture_app.stacks.results)
    template.has_output("ResultsBucketName", {"Value": {"Ref": Match.any_value()}})
    template.has_output("ResultsTopicArn", {"Value": {"Ref": Match.any_value()}})


def test_payloads_bucket_is_private_encrypted_and_logged(fixture_app):
    stack = fixture_app.stacks.results
    template = fixture_app.template(stack)
    bucket = template.to_json()["Resources"][stack.resolve(stack.payloads_bucket.node.default_child.logical_id)]
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "access-logs/payloads/"
    template.has_output("PayloadsBucketName", {"Value": {"Ref": Match.any_value()}})
