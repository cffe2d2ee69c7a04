"""Quality gates (SPEC §12): cdk-nag's AwsSolutions pack and cfn-lint over every synthesized template."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from stacks import ResultsStack
from stacks.components.nag import MatchingAcknowledgments, acknowledge_matching
from stacks.settings import load_cdk_json_context


pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

#: cfn-lint rules ignored, each with its reason.
IGNORED_CFN_LINT_RULES = {
    # CDK adds an explicit DependsOn on a function's or state machine's role (so the role's
    # policy exists first) next to the GetAtt of the role ARN; the duplicate is harmless.
    "W3005": "CDK's explicit DependsOn on roles duplicates the GetAtt dependency",
}
#: Regions linted: AgentCore Runtime's (cfn-lint checks resource types per region).
LINT_REGIONS = ["us-east-1", "us-west-2", "eu-central-1"]
#: Resource types offered in fewer regions, with the regions (of LINT_REGIONS) they exist in. A
#: template holding one can only deploy there, so it is linted there only (and must be somewhere).
REGION_LIMITED_TYPES = {
    # Amazon Nova Act (workflow definitions) is offered in us-east-1 only (cfn-lint's registry
    # schemas agree): a project with a Nova Act agent deploys its agents stack there.
    "AWS::NovaAct::WorkflowDefinition": ["us-east-1"],
}


def _violations(outdir: Path) -> list[tuple[str, str, str]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation.get("violatingConstructs", violation.get("violatingResources", []))
    ]


def _lint_regions(path: Path) -> list[str]:
    types = {r["Type"] for r in json.loads(path.read_text())["Resources"].values()}
    regions = [r for r in LINT_REGIONS if all(r in REGION_LIMITED_TYPES[t] for t in types & set(REGION_LIMITED_TYPES))]
    assert regions, f"{path.name}: no region offers all of {sorted(types & set(REGION_LIMITED_TYPES))}"
    return regions


def _lint(paths: list[Path]) -> list[str]:
    problems = []
    for path in paths:
        config = ManualArgs(regions=_lint_regions(path), ignore_checks=sorted(IGNORED_CFN_LINT_RULES))
        problems += [f"{path.name}: {match}" for match in lint_file(path, config=config)]
    return problems


def test_nag_passes_the_fixture_app_without_unacknowledged_findings(fixture_app):
    # app.synth() raises on an unacknowledged error; warnings would still land in the report.
    assert _violations(fixture_app.outdir) == []


def test_nag_passes_the_repository_app(repo_app):
    assert _violations(repo_app.outdir) == []


def test_nag_fails_synth_on_an_unacknowledged_finding(tmp_path):
    app = cdk.App(outdir=str(tmp_path), context=load_cdk_json_context(REPO / "cdk.json"))
    stack = ResultsStack(app, "NagProbe")
    s3.Bucket(stack, "Unlogged")  # no access logs, no TLS-only policy
    cdk.Validations.of(app).add_plugins(MatchingAcknowledgments(), AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    rules = {rule for _, rule, path in _violations(tmp_path) if "/Unlogged/" in path}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules
    assert all("/Unlogged/" in path for _, _, path in _violations(tmp_path))


@pytest.mark.parametrize("pattern, passes", [(r"Resource::arn:aws:s3:::probe/reports/\*", True),
                                             (r"Resource::arn:aws:s3:::probe/other/\*", False)])
def test_acknowledge_matching_covers_only_the_findings_its_pattern_matches(tmp_path, pattern, passes):
    app = cdk.App(outdir=str(tmp_path), context=load_cdk_json_context(REPO / "cdk.json"))
    stack = cdk.Stack(app, "MatchProbe")
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    iam.Policy(stack, "ReadReports", roles=[role], statements=[iam.PolicyStatement(
        actions=["s3:GetObject"], resources=["arn:aws:s3:::probe/reports/*"])])
    acknowledge_matching(stack, "AwsSolutions-IAM5", "Reports are named at run time.", pattern=pattern)
    cdk.Validations.of(app).add_plugins(MatchingAcknowledgments(), AwsSolutionsChecks(app))
    if passes:
        app.synth()
        assert _violations(tmp_path) == []
        return
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert [(rule, path) for _, rule, path in _violations(tmp_path)] == [
        ("AwsSolutions-IAM5[Resource::arn:aws:s3:::probe/reports/*]", "MatchProbe/ReadReports/Resource")]


def test_cfn_lint_passes_every_fixture_template(fixture_app):
    assert len(fixture_app.template_paths()) == len(fixture_app.stacks.all()) == 4  # results, agents, workflows, api
    assert _lint(fixture_app.template_paths()) == []


def test_cfn_lint_passes_every_repository_template(repo_app):
    assert _lint(repo_app.template_paths()) == []


def test_repository_app_holds_the_promised_resources(repo_app):
    types = set()
    for path in repo_app.template_paths():
        types |= {r["Type"] for r in json.loads(path.read_text())["Resources"].values()}
    assert {
        "AWS::ECR::Repository",
        "AWS::BedrockAgentCore::Runtime",
        "AWS::StepFunctions::StateMachine",
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
        "AWS::Logs::LogGroup",
        "AWS::Lambda::Function",
        "AWS::NovaAct::WorkflowDefinition",
        "AWS::Scheduler::Schedule",
        "AWS::Events::Rule",
        "AWS::SQS::Queue",
        "AWS::CloudWatch::Alarm",
    } <= types
    for name in repo_app.project.workflows:
        assert name in repo_app.stacks.workflows.state_machines


def test_only_the_nova_act_template_is_linted_in_fewer_regions(repo_app):
    regions = {path.name: _lint_regions(path) for path in repo_app.template_paths()}
    agents = f"{repo_app.stacks.agents.stack_name}.template.json"
    assert regions.pop(agents) == ["us-east-1"]  # it holds the Nova Act workflow definition
    assert all(r == LINT_REGIONS for r in regions.values()), regions
