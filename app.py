#!/usr/bin/env python3
"""The CDK app: ``cdk synth`` / ``cdk deploy`` from the repository root (SPEC §11).

Reads the project next to this file (``workflows/``, ``agents/``, ``lambdas/``), builds the
stacks (see ``stacks.build_stacks``) and synthesizes them. ``python app.py`` works without
the CDK CLI: it then reads ``cdk.json``'s context itself and writes to ``cdk.out/``.
Settings live in ``cdk.json`` under ``stepgraph:`` (see ``stacks.Settings``).

CDK's built-in CloudFormation validation (``cdk.CloudFormationValidatePlugin``) spends about
2 s of every synth setting up its rule engine, in the jsii kernel (Node.js), before it checks
a single template. CDK keeps that engine in a process-wide singleton, created by the first
synth that validates. ``main`` first synthesizes a one-resource throwaway app on a second
thread, which creates it, and meanwhile imports ``stepgraph`` and ``stacks`` and reads the
project: Python work that makes no jsii call (tests/infra/test_app.py asserts it). The real
``app.synth()`` then finds the engine ready: the same plugin CDK always uses, registered by CDK
itself; only its start moves (templates, report and CDK's analytics metadata are unchanged).
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import aws_cdk as cdk

# Loaded before the validation engine starts: importing a jsii package makes a jsii call.
import cdk_ecr_deployment  # noqa: F401
import cdk_nag  # noqa: F401

ROOT = Path(__file__).resolve().parent


def start_cloudformation_validation() -> Future[None] | None:
    """Start CDK's CloudFormation validation engine on a second thread.

    Synthesizes a throwaway app (one ``AWS::CloudFormation::WaitConditionHandle``, which the
    validation passes, in a temporary folder), so that CDK creates its validation plugin, a
    process-wide singleton (aws-cdk-lib ``core/lib/private/synthesis-validation.js``,
    ``CloudFormationValidatePlugin._singletonInstance``); every later synth of the process
    reuses it.

    Returns
    -------
    Future or None
        Done when the engine is ready; its ``result()`` re-raises what the throwaway synth
        raised. ``None`` when ``CDK_VALIDATION=false`` (CDK's validation is off: nothing to start).

    Until the future is done this process must make no other jsii call: the jsii kernel serves
    one request at a time (``load`` makes none).
    """
    if os.environ.get("CDK_VALIDATION") == "false":
        return None
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cfn-validate")
    future = executor.submit(_synthesize_throwaway_app)
    executor.shutdown(wait=False)
    return future


def _synthesize_throwaway_app() -> None:
    with tempfile.TemporaryDirectory(prefix="stepgraph-validate-") as outdir:
        app = cdk.App(outdir=outdir)
        cdk.CfnWaitConditionHandle(cdk.Stack(app, "ValidationWarmUp"), "Handle")
        app.synth()


def load(root: Path) -> tuple[Callable[..., Any], Callable[[Path], dict], Any]:
    """Import ``stacks`` and ``stepgraph`` and read the project at ``root``, making no jsii call.

    Returns
    -------
    tuple
        ``stacks.build_stacks``, ``stacks.settings.load_cdk_json_context`` and the project
        (``stepgraph.load_project(root)``).

    Raises
    ------
    stepgraph.WorkflowValidationError
        An invalid workflow (from ``load_project``).
    """
    import stepgraph
    from stacks import build_stacks
    from stacks.settings import load_cdk_json_context

    return build_stacks, load_cdk_json_context, stepgraph.load_project(root)


def main() -> cdk.App:
    """Build and synthesize the app; return it."""
    validation = start_cloudformation_validation()
    try:
        build_stacks, load_cdk_json_context, project = load(ROOT)
    finally:
        if validation is not None:
            validation.result()  # no jsii call before this
    if os.environ.get("CDK_OUTDIR"):  # run by the CDK CLI, which passes outdir and context
        app = cdk.App()
    else:  # without the CLI, cdk.App() would write to a temporary folder and miss cdk.json
        app = cdk.App(outdir=str(ROOT / "cdk.out"), context=load_cdk_json_context(ROOT / "cdk.json"))
    build_stacks(app, project)
    app.synth()
    return app


if __name__ == "__main__":
    main()
