#!/usr/bin/env python3
"""The CDK app: ``cdk synth`` / ``cdk deploy`` from the repository root (SPEC §11).

Reads the project next to this file (``workflows/``, ``agents/``, ``lambdas/``), builds the
stacks (see ``stacks.build_stacks``) and synthesizes them. ``python app.py`` works without
the CDK CLI: it then reads ``cdk.json``'s context itself and writes to ``cdk.out/``.
Settings live in ``cdk.json`` under ``stepgraph:`` (see ``stacks.Settings``).
"""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk

import stepgraph
from stacks import build_stacks
from stacks.settings import load_cdk_json_context

ROOT = Path(__file__).resolve().parent


def main() -> cdk.App:
    """Build and synthesize the app; return it."""
    if os.environ.get("CDK_OUTDIR"):  # run by the CDK CLI, which passes outdir and context
        app = cdk.App()
    else:  # without the CLI, cdk.App() would write to a temporary folder and miss cdk.json
        app = cdk.App(outdir=str(ROOT / "cdk.out"), context=load_cdk_json_context(ROOT / "cdk.json"))
    build_stacks(app, stepgraph.load_project(ROOT))
    app.synth()
    return app


if __name__ == "__main__":
    main()
