"""Pieces of the stacks that need no synthesis: settings, names, substitutions, ARNs, nag helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from stacks.components import (
    MissingSubstitutionError,
    WorkflowResources,
    definition_substitutions,
    model_resource_arns,
    powertools_parameter_name,
)
from stacks.components.nag import flatten_reference, iam_findings
from stacks.naming import pascal, state_machine_name
from stacks.settings import Settings, retention_days


@dataclass
class FakeCompiled:
    name: str
    substitution_keys: frozenset[str]
    agent_ids: tuple[str, ...] = ()
    definition: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return "{}"


@pytest.fixture(scope="module")
def resources():
    stack = cdk.Stack(cdk.App(), "Scratch")
    return WorkflowResources(
        results_bucket=s3.Bucket.from_bucket_name(stack, "Bucket", "results"),
        results_topic=sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:111111111111:results"),
        functions={
            "InvokeAgentFunctionArn": lambda_.Function.from_function_arn(
                stack, "Fn", "arn:aws:lambda:us-east-1:111111111111:function:invoke"
            )
        },
    )


def test_definition_substitutions_cover_exactly_the_placeholders(resources):
    compiled = FakeCompiled("wf", frozenset({"ResultsBucketName", "InvokeAgentFunctionArn"}))
    assert set(definition_substitutions(compiled, resources)) == {"ResultsBucketName", "InvokeAgentFunctionArn"}


def test_definition_substitutions_name_every_missing_key(resources):
    compiled = FakeCompiled("wf", frozenset({"ResultsBucketName", "AgentRuntimeArn_ghost", "ToolFunctionArn"}))
    with pytest.raises(MissingSubstitutionError) as raised:
        definition_substitutions(compiled, resources)
    assert raised.value.missing == ["AgentRuntimeArn_ghost", "ToolFunctionArn"]
    assert "${AgentRuntimeArn_ghost}" in str(raised.value) and "'wf'" in str(raised.value)


def test_retention_days_maps_allowed_lengths_and_rejects_others():
    assert retention_days(30).name == "ONE_MONTH"
    assert retention_days(3653).name == "TEN_YEARS"
    with pytest.raises(ValueError, match="not a CloudWatch Logs retention length"):
        retention_days(31)


def test_settings_read_the_context_with_defaults():
    app = cdk.App(context={"stepgraph:logRetentionDays": 14, "stepgraph:nag": "false"})
    settings = Settings.from_context(app)
    assert settings.log_retention_days == 14 and settings.nag is False
    assert settings.stack_prefix == "Stepgraph" and settings.removal_policy == "retain"
    with pytest.raises(ValueError, match="removalPolicy"):
        Settings(removal_policy="keep")


def test_names_are_valid_logical_ids_and_state_machine_names():
    assert pascal("customer-support") == "CustomerSupport"
    assert state_machine_name("Stepgraph", "daily-report") == "Stepgraph-daily-report"
    with pytest.raises(ValueError, match="1-80 characters"):
        state_machine_name("P" * 20, "w" * 64)


def test_model_arns_cover_foundation_models_and_inference_profiles():
    stack = cdk.Stack(cdk.App(), "Arns")
    (foundation,) = [stack.resolve(a) for a in model_resource_arns("amazon.nova-lite-v1:0")]
    assert "foundation-model/amazon.nova-lite-v1:0" in str(foundation)
    profile, model = [str(stack.resolve(a)) for a in model_resource_arns("eu.amazon.nova-pro-v1:0")]
    assert "inference-profile/eu.amazon.nova-pro-v1:0" in profile
    assert "bedrock:*::foundation-model/amazon.nova-pro-v1:0" in model


def test_powertools_parameter_names_one_release():
    assert powertools_parameter_name("3.37.0") == "/aws/service/powertools/python/arm64/python3.12/3.37.0"


def test_nag_findings_render_references_like_cdk_nag():
    document = {
        "PolicyDocument": {
            "Statement": [
                {"Effect": "Allow", "Action": "s3:PutObject",
                 "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket1", "Arn"]}, "/results/wf/*"]]}},
                {"Effect": "Allow", "Action": ["xray:Put*"], "Resource": "*"},
                {"Effect": "Deny", "Action": "*", "Resource": "*"},
            ]
        }
    }
    assert iam_findings("AWS::IAM::Policy", document) == {
        "Resource::<Bucket1.Arn>/results/wf/*",
        "Action::xray:Put*",
        "Resource::*",
    }
    assert flatten_reference({"Fn::Sub": "arn:${AWS::Partition}:s3:::x"}) == "arn:<AWS::Partition>:s3:::x"
