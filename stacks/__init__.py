"""The CDK side of stepgraph: one stack per concern, wired by ``build_stacks``.

``ResultsStack`` (bucket + topic), ``AgentsStack`` (one AgentCore runtime per agent folder, a
Nova Act workflow definition per Nova Act agent) and ``WorkflowsStack`` (the handler Lambdas,
one state machine per workflow with its alarms, schedules, webhooks, chaining and the
result-record backstop). ``app.py``
calls ``build_stacks``; the tests call it too, so they test the very wiring that deploys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from .agents_stack import AgentsStack
from .api_stack import ApiStack
from .components.http_api import ASSET as HTTP_API_ASSET
from .components.local_bundle import prefetch_requirements
from .components.nag import MatchingAcknowledgments
from .results_stack import ResultsStack
from .settings import Settings
from .workflows_stack import UnknownAgentError, UnknownWorkflowError, WorkflowsStack

__all__ = (
    "AgentsStack",
    "ApiStack",
    "ResultsStack",
    "Settings",
    "StepgraphStacks",
    "UnknownAgentError",
    "UnknownWorkflowError",
    "WorkflowsStack",
    "build_stacks",
)


@dataclass(frozen=True)
class StepgraphStacks:
    """The stacks of one deployment."""

    results: ResultsStack
    agents: AgentsStack
    workflows: WorkflowsStack
    api: ApiStack

    def all(self) -> tuple[cdk.Stack, ...]:
        """The stacks, in deployment order."""
        return (self.results, self.agents, self.workflows, self.api)


def build_stacks(app: cdk.App, project, *, settings: Settings | None = None, lambdas_dir: Path | None = None) -> StepgraphStacks:
    """Build the app's stacks for ``project``.

    Parameters
    ----------
    app:
        The CDK app.
    project:
        ``stepgraph.load_project(root)``: its workflows (compiled here) and agents.
    settings:
        Deployment settings. Default: read from ``app``'s context (``Settings.from_context``).
    lambdas_dir:
        Folder of the Lambda handlers. Default ``<project.root>/lambdas``.

    Returns
    -------
    StepgraphStacks
        The stacks. With ``settings.nag`` (the default), cdk-nag's AwsSolutions checks run
        as a validation plugin of ``app``: ``app.synth()`` fails on any unacknowledged finding
        and writes ``validation-report.json`` into the cloud assembly.

    Raises
    ------
    stepgraph.WorkflowValidationError
        Raised by ``load_project``/``compile_workflow`` for an invalid workflow.
    UnknownAgentError, UnknownWorkflowError, MissingSubstitutionError
        See ``WorkflowsStack``.

    Examples
    --------
    >>> app = cdk.App(outdir="cdk.out")  # doctest: +SKIP
    >>> build_stacks(app, stepgraph.load_project("."))  # doctest: +SKIP
    >>> app.synth()  # doctest: +SKIP
    """
    from stepgraph import compile_workflow  # the core; kept free of aws_cdk

    settings = settings or Settings.from_context(app)
    prefix = settings.stack_prefix
    root = Path(project.root)
    lambdas_dir = Path(lambdas_dir) if lambdas_dir is not None else root / "lambdas"
    # pip installs a cold cache needs, started now, side by side (see components.local_bundle)
    prefetch_requirements([*sorted(lambdas_dir.glob("*/requirements.txt")), HTTP_API_ASSET / "requirements.txt"])
    cdk.Tags.of(app).add("project", "stepgraph")

    results = ResultsStack(
        app,
        f"{prefix}Results",
        settings=settings,
        description="stepgraph: results bucket and results topic",
    )
    agents = AgentsStack(
        app,
        f"{prefix}Agents",
        agents=project.agents,
        results_bucket=results.bucket,
        payloads_bucket=results.payloads_bucket,
        settings=settings,
        description="stepgraph: agent images, Bedrock AgentCore runtimes and Nova Act workflow definitions",
    )
    compiled = [compile_workflow(workflow) for _, workflow in sorted(project.workflows.items())]
    workflows = WorkflowsStack(
        app,
        f"{prefix}Workflows",
        workflows=compiled,
        runtimes=agents.runtimes,
        results_bucket=results.bucket,
        results_topic=results.topic,
        results_topic_key=results.notifications.key,
        payloads_bucket=results.payloads_bucket,
        definitions=project.workflows,
        lambdas_dir=lambdas_dir,
        settings=settings,
        description="stepgraph: handler Lambdas, one Step Functions state machine per workflow, "
        "schedules, webhooks, chaining, alarms",
    )
    api = ApiStack(
        app,
        f"{prefix}Api",
        workflows=workflows,
        project=project,
        settings=settings,
        description="stepgraph: execution HTTP API (API Gateway with response streaming, Cognito, Lambda)",
    )
    if settings.nag:
        # MatchingAcknowledgments first: it turns acknowledge_matching patterns into exact
        # acknowledgments before cdk-nag checks. Unacknowledged findings fail `synth`.
        cdk.Validations.of(app).add_plugins(MatchingAcknowledgments(), AwsSolutionsChecks(app, verbose=True))
    return StepgraphStacks(results=results, agents=agents, workflows=workflows, api=api)
