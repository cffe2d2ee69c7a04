#!/usr/bin/env python3
"""The CDK app: ``cdk synth`` / ``cdk deploy`` from the repository root (SPEC §11).

Reads the project next to this file (``workflows/``, ``agents/``, ``lambdas/``), builds the
stacks (see ``stacks.build_stacks``) and synthesizes them. ``python app.py`` works without
the CDK CLI: it then reads ``cdk.json``'s context itself and writes to ``cdk.out/``.
Settings live in ``cdk.json`` under ``stepgraph:`` (see ``stacks.Settings``).

CDK's built-in CloudFormation validation (``cdk.CloudFormationValidatePlugin``) spends about
2 s of every synth setting up its rule engine, in the jsii kernel (Node.js), before it checks
a single template. ``main`` starts that set-up first, on a second thread, and meanwhile imports
``stepgraph`` and ``stacks`` and reads the project: Python work that makes no jsii call
(``load`` checks this; tests/infra/test_app.py asserts it). The engine is then registered on
the app, where CDK would otherwise create the same one itself during ``app.synth()``: same
plugin, same rules, same report; only its start moves.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import aws_cdk as cdk

# Loaded before the validation engine starts: importing a jsii package makes a jsii call.
import cdk_ecr_deployment  # noqa: F401
import cdk_nag  # noqa: F401

ROOT = Path(__file__).resolve().parent


def start_cloudformation_validation() -> Future[cdk.CloudFormationValidatePlugin] | None:
    """Start creating CDK's CloudFormation validation plugin on a second thread.

    Returns
    -------
    Future or None
        The plugin, with CDK's default rules (what ``app.synth()`` creates when no app
        registers one; aws-cdk-lib ``core/lib/private/synthesis-validation.js``). ``None``
        when ``CDK_VALIDATION=false``, which turns CDK's validation off (then nothing is
        registered, as CDK would register nothing).

    The jsii kernel answers one request at a time: until the future is done, this process must
    make no other jsii call (``load`` makes none).
    """
    if os.environ.get("CDK_VALIDATION") == "false":
        return None
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cfn-validate")
    future = executor.submit(cdk.CloudFormationValidatePlugin)
    executor.shutdown(wait=False)
    return future


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
        plugin = validation.result() if validation is not None else None  # no jsii call before this
    if os.environ.get("CDK_OUTDIR"):  # run by the CDK CLI, which passes outdir and context
        app = cdk.App()
    else:  # without the CLI, cdk.App() would write to a temporary folder and miss cdk.json
        app = cdk.App(outdir=str(ROOT / "cdk.out"), context=load_cdk_json_context(ROOT / "cdk.json"))
    build_stacks(app, project)
    if plugin is not None:
        # after build_stacks' plugins (cdk-nag's), where CDK puts its own
        cdk.Validations.of(app).add_plugins(plugin)
    app.synth()
    return app


if __name__ == "__main__":
    main()
