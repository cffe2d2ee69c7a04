"""``stepgraph import elevaite FILE... [-o DIR]``: convert other engines' workflow documents.

Exit codes: 0 when every construct of every document was converted, 1 when something could
not be (each such construct is printed with its step id and what to do) or a file could not be
read or converted at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List

import typer
from rich.markup import escape

from .cli_app import app, err, out
from .exceptions import StepgraphError, WorkflowValidationError

__all__ = ["import_app"]

import_app = typer.Typer(no_args_is_help=True, help="Convert workflow documents of other engines into stepgraph workflows.")
app.add_typer(import_app, name="import")


def _validation(root: Path, workflow_file: Path) -> list[str]:
    """Problems of a written workflow against the agents and tools of ``root`` (empty when valid)."""
    from .agents import discover_agents
    from .loader import load_workflow
    from .project import registered_tools

    try:
        load_workflow(workflow_file, agents=discover_agents(root / "agents").keys(), tools=registered_tools(root))
    except WorkflowValidationError as exc:
        return [f"step '{i.step_id}': {i.message}" if i.step_id else i.message for i in exc.issues]
    except StepgraphError as exc:
        return [str(exc)]
    return []


@import_app.command("elevaite")
def import_elevaite(files: List[Path] = typer.Argument(..., help="elevAIte workflow documents (.json/.yaml): one workflow, a list, or a {\"workflows\": [...]} seed file."),
                    output: Path = typer.Option(Path("."), "--output", "-o", help="Project folder to write workflows/<name>.json and agents/<id>/ into."),
                    as_json: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """Convert elevAIte engine documents into stepgraph workflows (and agent skeletons); exit 1 when something could not be converted."""
    from .importers import import_elevaite_files, write_conversion

    try:
        conversions = import_elevaite_files(files)
    except StepgraphError as exc:
        if as_json:
            sys.stdout.write(json.dumps({"converted": False, "error": str(exc), "workflows": []}) + "\n")
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1)
    report = []
    for conversion in conversions:
        written = write_conversion(conversion, output)
        problems = _validation(output, written[0])
        report.append({"source": conversion.source_name, "workflow": conversion.name, "file": str(written[0]),
                       "agents": sorted(conversion.agents), "complete": conversion.complete,
                       "warnings": [w.to_dict() for w in conversion.warnings], "notes": conversion.notes,
                       "validation_problems": problems})
        if as_json:
            continue
        mark = "[green]✓[/]" if conversion.complete else "[yellow]![/]"
        out.print(f"{mark} {escape(conversion.source_name)} → {escape(str(written[0]))} "
                  f"({len(conversion.workflow['steps'])} steps; agents: {escape(', '.join(sorted(conversion.agents)) or 'none')})", highlight=False)
        for warning in conversion.warnings:
            out.print(f"  [yellow]not converted[/] {escape(str(warning))}", highlight=False)
        for note in conversion.notes:
            out.print(f"  [dim]note: {escape(note)}[/]", highlight=False)
        if problems:
            out.print(f"  [red]does not validate yet[/] ({len(problems)} problem(s)):", highlight=False)
            for problem in problems:
                out.print(f"    {escape(problem)}", highlight=False)
        else:
            out.print("  [green]validates[/] against the agents and tools of " + escape(str(output)), highlight=False)
    complete = all(c.complete for c in conversions)
    if as_json:
        sys.stdout.write(json.dumps({"converted": complete, "workflows": report}, indent=2, ensure_ascii=False) + "\n")
    raise typer.Exit(0 if complete else 1)
