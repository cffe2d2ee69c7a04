"""AgentsStack: per agent an owned ECR repository, an arm64 image copied into it, an AgentCore runtime."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def agents(fixture_app):
    stack = fixture_app.stacks.agents
    return stack, fixture_app.template(stack), fixture_app.template_json(stack)


def test_agent_images_are_built_for_linux_arm64(fixture_app, agents):
    stack, _, _ = agents
    manifest = json.loads((fixture_app.outdir / f"{stack.stack_name}.assets.json").read_text())
    images = manifest["dockerImages"]
    assert len(images) == len(fixture_app.project.agents) == 1
    assert {image["source"]["platform"] for image in images.values()} == {"linux/arm64"}


def test_repository_scans_on_push_keeps_last_images_and_is_encrypted(fixture_app, agents):
    _, template, _ = agents
    repositories = template.find_resources("AWS::ECR::Repository")
    assert len(repositories) == 1
    (repository,) = repositories.values()
    props = repository["Properties"]
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert props["EncryptionConfiguration"] == {"EncryptionType": "AES256"}
    rules = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rules[0]["selection"]["countType"] == "imageCountMoreThan"
    assert rules[0]["selection"]["countNumber"] == fixture_app.settings.images_to_keep
    assert repository["DeletionPolicy"] == "Retain"


def test_image_is_copied_into_the_owned_repository_under_the_asset_hash(agents):
    stack, template, _ = agents
    agent = stack.agents["echo_agent"]
    copies = template.find_resources("Custom::CDKECRDeployment")
    assert len(copies) == 1
    (copy,) = copies.values()
    assert copy["Properties"]["ImageArch"] == "arm64"
    dest = json.dumps(copy["Properties"]["DestImage"])
    assert f":{agent.image_tag}" in dest
    assert stack.resolve(agent.repository.node.default_child.logical_id) in dest


def test_runtime_runs_the_copied_tag_with_the_agent_settings(agents):
    stack, template, _ = agents
    agent = stack.agents["echo_agent"]
    template.has_resource_properties(
        "AWS::BedrockAgentCore::Runtime",
        {
            "AgentRuntimeName": "echo_agent",
            "EnvironmentVariables": {"LOG_LEVEL": "DEBUG", "DOCKER_CONTAINER": "1"},
            "LifecycleConfiguration": {"IdleRuntimeSessionTimeout": 600, "MaxLifetime": 3600},
            "AgentRuntimeArtifact": {
                "ContainerConfiguration": {
                    "ContainerUri": {"Fn::Join": ["", Match.array_with([Match.string_like_regexp(f":{agent.image_tag}$")])]}
                }
            },
        },
    )


def test_runtime_waits_for_the_image_copy(agents):
    stack, _, template = agents
    agent = stack.agents["echo_agent"]
    runtime_id = stack.resolve(agent.runtime.node.default_child.logical_id)
    copy_id = next(k for k, r in template["Resources"].items() if r["Type"] == "Custom::CDKECRDeployment")
    assert copy_id in template["Resources"][runtime_id].get("DependsOn", [])


def test_runtime_may_invoke_only_its_configured_models(agents):
    _, _, template = agents
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("bedrock:") for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    ]
    assert len(statements) == 1
    resources = json.dumps(statements[0]["Resource"])
    assert statements[0]["Resource"] != "*"
    assert "foundation-model/amazon.nova-lite-v1:0" in resources
    assert "inference-profile/us.amazon.nova-pro-v1:0" in resources
    assert "bedrock:*::foundation-model/amazon.nova-pro-v1:0" in resources
    assert sorted(statements[0]["Action"]) == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def test_runtime_log_group_is_named_after_the_runtime_and_kept_for_the_retention(fixture_app, agents):
    stack, template, _ = agents
    runtime_id = stack.resolve(stack.agents["echo_agent"].runtime.node.default_child.logical_id)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": {
                "Fn::Join": ["", ["/aws/bedrock-agentcore/runtimes/", {"Fn::GetAtt": [runtime_id, "AgentRuntimeId"]}, "-DEFAULT"]]
            },
            "RetentionInDays": fixture_app.settings.log_retention_days,
        },
    )


def test_agents_output_every_runtime_arn(agents):
    stack, template, _ = agents
    runtime_id = stack.resolve(stack.agents["echo_agent"].runtime.node.default_child.logical_id)
    template.has_output("AgentRuntimeArnEchoAgent", {"Value": {"Fn::GetAtt": [runtime_id, "AgentRuntimeArn"]}})
