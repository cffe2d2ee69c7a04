"""AgentsStack: per agent an owned ECR repository, an arm64 image copied into it, an AgentCore runtime."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
FIXTURE_PROJECT = Path(__file__).resolve().parent / "fixtures" / "project"
from template_reading import as_list, logical_id, render, resources_of_type, role_statements

from stacks import AgentsStack
from stacks.components import NOVA_ACT_RUN_ACTIONS
from stepgraph.agents import AgentSpec, NovaActSettings

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


def test_image_copier_may_pull_the_asset_and_push_to_the_agent_repositories_only(agents):
    stack, _, template = agents
    (copier_id,) = [k for k, r in resources_of_type(template, "AWS::Lambda::Function").items()
                    if "CDKECRDeployment" in k]
    role_id = template["Resources"][copier_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    granted = {(a, render(r)) for s in role_statements(template, role_id) for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    repository = f"<{logical_id(stack, stack.agents['echo_agent'].repository)}.Arn>"
    on_star = {a for a, r in granted if r == "*"}
    # ecr:GetAuthorizationToken has no resource-level permissions; nothing else is on "*"
    assert on_star == {"ecr:GetAuthorizationToken"}
    assert not any(a.startswith("s3:") for a, _ in granted)
    pushes = {a for a, r in granted if a in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")}
    assert pushes and {r for a, r in granted if a in pushes} == {repository}
    pulled = {r for a, r in granted if a == "ecr:BatchGetImage"}
    assert repository in pulled and any("container-assets" in r for r in pulled)
    logs = {r for a, r in granted if a.startswith("logs:")}
    assert logs and all(r.startswith(f"<{copier_id[:-8]}") and "LogGroup" in r for r in logs)  # its own log group
    managed = template["Resources"][role_id]["Properties"].get("ManagedPolicyArns", [])
    assert managed == []


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


def test_agents_output_every_image_uri_and_tag(agents):
    stack, template, _ = agents
    agent = stack.agents["echo_agent"]
    outputs = template.to_json()["Outputs"]
    assert outputs["AgentImageTagEchoAgent"]["Value"] == agent.image_tag
    uri = render(outputs["AgentImageUriEchoAgent"]["Value"])
    assert uri.endswith(f"/<{logical_id(stack, agent.repository)}>:{agent.image_tag}")


def test_python_agents_get_no_nova_act_resources(agents):
    stack, template, raw = agents
    template.resource_count_is("AWS::NovaAct::WorkflowDefinition", 0)
    assert stack.nova_act == {}
    assert "nova-act" not in json.dumps(raw)


# ----------------------------------------------------------------------------- Nova Act


@pytest.fixture(scope="module")
def nova(repo_app):
    stack = repo_app.stacks.agents
    return stack, repo_app.template_json(stack), stack.agents["getting_started"]


def _nova_act_statements(template: dict) -> list[dict]:
    return [
        s
        for policy in resources_of_type(template, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("nova-act:") for a in as_list(s["Action"]))
    ]


def test_nova_act_agent_gets_its_workflow_definition_exporting_to_the_results_bucket(repo_app, nova):
    stack, template, agent = nova
    definitions = resources_of_type(template, "AWS::NovaAct::WorkflowDefinition")
    nova_agents = sorted(a for a, spec in repo_app.project.agents.items() if spec.kind == "nova_act")
    # issue 14 added a second Nova Act agent (price_compare); each has its own definition
    assert nova_agents == ["getting_started", "price_compare"] and len(definitions) == len(nova_agents)
    (props,) = [d["Properties"] for d in definitions.values() if d["Properties"]["Name"] == "getting-started-workflow"]
    assert props["Name"] == agent.spec.nova_act.workflow_definition_name == "getting-started-workflow"
    # WorkflowExportConfig.s3KeyPrefix may not end with "/" (pattern of the Nova Act API).
    assert props["ExportConfig"]["S3KeyPrefix"] == "nova-act/getting_started"
    assert "ResultsBucket" in json.dumps(props["ExportConfig"]["S3BucketName"])


def test_nova_act_runtime_may_run_only_its_own_workflow_definition(nova):
    stack, template, agent = nova
    definition_id = logical_id(stack, stack.nova_act["getting_started"].definition)
    statements = _nova_act_statements(template)
    assert len(statements) == len(stack.nova_act)  # one per Nova Act agent, each on its own definition only
    (statement,) = [s for s in statements if definition_id in json.dumps(s["Resource"])]
    assert sorted(as_list(statement["Action"])) == sorted(NOVA_ACT_RUN_ACTIONS) == [
        "nova-act:CreateAct", "nova-act:CreateSession", "nova-act:CreateWorkflowRun",
        "nova-act:InvokeActStep", "nova-act:UpdateAct", "nova-act:UpdateWorkflowRun",
    ]
    assert [render(r) for r in as_list(statement["Resource"])] == [
        f"<{definition_id}.Arn>", f"<{definition_id}.Arn>/workflow-run/*",
    ]
    (policy,) = [
        p for p in resources_of_type(template, "AWS::IAM::Policy").values()
        if statement in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert policy["Properties"]["Roles"] == [{"Ref": logical_id(stack, agent.runtime.role)}]


def test_no_role_of_the_app_gets_nova_act_wildcards(repo_app):
    for stack in repo_app.stacks.all():
        for statement in _nova_act_statements(repo_app.template_json(stack)):
            assert not any("*" in a for a in as_list(statement["Action"])), statement
            assert "*" not in as_list(statement["Resource"]), statement


def test_nova_act_runtime_may_write_the_export_prefix_only(nova):
    stack, template, agent = nova
    statements = role_statements(template, logical_id(stack, agent.runtime.role))
    s3 = [s for s in statements if any(str(a).startswith("s3:") for a in as_list(s["Action"]))]
    assert len(s3) == 1 and as_list(s3[0]["Action"]) == ["s3:PutObject"]
    assert render(s3[0]["Resource"]).endswith("/nova-act/getting_started/*")


def test_nova_act_runtime_knows_its_definition_and_no_api_key(nova):
    stack, template, agent = nova
    env = template["Resources"][logical_id(stack, agent.runtime)]["Properties"]["EnvironmentVariables"]
    assert env["NOVA_ACT_WORKFLOW_DEFINITION_NAME"] == "getting-started-workflow"
    assert "NOVA_ACT_API_KEY_SECRET_ARN" not in env and "NOVA_ACT_API_KEY" not in env


def test_nova_act_outputs_the_definition_arn_and_every_image(repo_app, nova):
    stack, template, _ = nova
    outputs = template["Outputs"]
    definition_id = logical_id(stack, stack.nova_act["getting_started"].definition)
    assert outputs["WorkflowDefinitionArnGettingStarted"]["Value"] == {"Fn::GetAtt": [definition_id, "Arn"]}
    for agent_id, agent in stack.agents.items():
        key = "".join(p[:1].upper() + p[1:] for p in agent_id.split("_"))
        assert outputs[f"AgentImageTag{key}"]["Value"] == agent.image_tag
        assert render(outputs[f"AgentImageUri{key}"]["Value"]).endswith(f":{agent.image_tag}")


def test_nova_act_api_key_is_passed_as_a_secret_arn_never_as_a_value(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    bucket_stack = cdk.Stack(app, "Buckets")
    bucket = s3.Bucket(bucket_stack, "Results")
    spec = AgentSpec(
        agent_id="browser",
        path=FIXTURE_PROJECT / "agents" / "echo_agent",
        kind="nova_act",
        nova_act=NovaActSettings(workflow_definition_name="browser-workflow", api_key_secret_name="stepgraph/nova-act-key"),
    )
    stack = AgentsStack(app, "Probe", agents={"browser": spec}, results_bucket=bucket)
    template = Template.from_stack(stack).to_json()
    agent = stack.agents["browser"]
    env = template["Resources"][logical_id(stack, agent.runtime)]["Properties"]["EnvironmentVariables"]
    assert render(env["NOVA_ACT_API_KEY_SECRET_ARN"]).endswith(":secret:stepgraph/nova-act-key")
    assert env["NOVA_ACT_WORKFLOW_DEFINITION_NAME"] == "browser-workflow"
    assert "NOVA_ACT_API_KEY" not in env
    statements = role_statements(template, logical_id(stack, agent.runtime.role))
    (read,) = [s for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert render(read["Resource"]).endswith(":secret:stepgraph/nova-act-key-??????")
    assert not resources_of_type(template, "AWS::SecretsManager::Secret")
