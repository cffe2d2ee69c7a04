"""Fixtures of the infrastructure tests: the CDK app synthesized once per session.

Synthesizing takes seconds, so each project is built once and every test reads the result.
The app is built the way ``app.py`` builds it: ``cdk.json``'s context (feature flags and
``stepgraph:`` settings), ``stacks.build_stacks``, cdk-nag as a validation plugin; only the
project differs (a small fixture project, or the repository itself).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `stacks` is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

import stepgraph  # noqa: E402
from stacks import StepgraphStacks, build_stacks  # noqa: E402
from stacks.settings import Settings, load_cdk_json_context  # noqa: E402

FIXTURE_PROJECT = Path(__file__).resolve().parent / "fixtures" / "project"


@dataclass
class SynthesizedApp:
    """One synthesized app and what the tests read from it."""

    project: stepgraph.Project
    stacks: StepgraphStacks
    settings: Settings
    outdir: Path
    compiled: dict[str, stepgraph.CompiledWorkflow]

    def template(self, stack: cdk.Stack) -> Template:
        """The assertions ``Template`` of one stack."""
        return Template.from_stack(stack)

    def template_json(self, stack: cdk.Stack) -> dict:
        """One stack's synthesized template, as JSON."""
        return json.loads((self.outdir / f"{stack.stack_name}.template.json").read_text(encoding="utf-8"))

    def template_paths(self) -> list[Path]:
        """Every synthesized template file."""
        return sorted(self.outdir.glob("*.template.json"))


def synthesize(project_root: Path, outdir: Path, *, lambdas_dir: Path | None = None) -> SynthesizedApp:
    """Build and synthesize the app for ``project_root`` into ``outdir`` (as ``app.py`` does).

    ``app.synth()`` raises when cdk-nag reports an unacknowledged finding.
    """
    app = cdk.App(outdir=str(outdir), context=load_cdk_json_context(REPO / "cdk.json"))
    project = stepgraph.load_project(project_root)
    stacks = build_stacks(app, project, lambdas_dir=lambdas_dir)
    app.synth()
    compiled = {name: stepgraph.compile_workflow(workflow) for name, workflow in project.workflows.items()}
    return SynthesizedApp(project, stacks, Settings.from_context(app), outdir, compiled)


@pytest.fixture(scope="session")
def fixture_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """The fixture project (one agent, two workflows) with the repository's Lambda handlers."""
    return synthesize(FIXTURE_PROJECT, tmp_path_factory.mktemp("cdk-fixture"), lambdas_dir=REPO / "lambdas")


@pytest.fixture(scope="session")
def repo_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """The repository's own project: what ``python app.py`` deploys."""
    return synthesize(REPO, tmp_path_factory.mktemp("cdk-repo"))
