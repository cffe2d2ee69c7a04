"""The ``stepgraph`` typer app and what its command modules share (consoles, JSON output, the project root).

:mod:`stepgraph.cli` (local commands) and :mod:`stepgraph.cli_deployed` (deployed-app commands)
both decorate :data:`app` from here, so neither imports the other's internals; ``stepgraph.cli``
imports ``stepgraph.cli_deployed`` once so every command is registered, and nothing imports back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

__all__ = ["app", "emit_json", "err", "find_project_root", "out"]

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Agent workflows on AWS Step Functions and Bedrock AgentCore.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``workflows/`` or ``agents/`` (else cwd)."""
    here = start.resolve()
    for folder in [here, *here.parents]:
        if (folder / "agents").is_dir() or (folder / "workflows").is_dir():
            return folder
    return Path.cwd()


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout (``--json``)."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
