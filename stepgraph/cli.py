"""The ``stepgraph`` command line (SPEC §8): validate, compile and run workflows.

``--json`` makes a command print one JSON document on stdout; with ``run --json`` the step
events go to stderr as JSON lines and stdout holds only the result record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from . import cli_deployed  # noqa: F401 - registers deploy-state, invoke, logs, approvals on the same app
from . import cli_cost  # noqa: F401 - registers cost
from . import cli_import  # noqa: F401 - registers import elevaite
from . import cli_serve  # noqa: F401 - registers serve (the HTTP API)
from .cli_app import app, err, find_project_root, out
from .cli_app import emit_json as _emit_json
from .compiler import compile_workflow
from .exceptions import ProjectError, StepgraphError, WorkflowValidationError
from .lint import workflow_warnings
from .project import load_project

__all__ = ["app", "main", "find_project_root"]

def _print_warnings(warnings: list, console: Console) -> None:
    """Warnings (SPEC §8): printed, never changing the exit code."""
    for warning in warnings:
        step = f"step '{warning.step_id}'" if warning.step_id else "workflow"
        console.print(f"  [yellow]warning[/] {escape(step)} [dim]{escape(warning.path)}[/]: {escape(warning.message)}", highlight=False)



def _load(file: Path):
    """The workflow in ``file``, checked against the project it sits in (or the current folder's)."""
    root = find_project_root(file.parent)
    project = load_project(root, strict=False)
    project, workflow, note = project.with_file(file)
    return workflow, project, note


@app.command()
def validate(files: List[Path] = typer.Argument(..., help="Workflow files (.json, .yaml, .yml)."),
             as_json: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """Validate workflow files; print every problem; exit 1 when any file is invalid."""
    report: list[dict[str, Any]] = []
    failed = False
    for file in files:
        try:
            wf, _, _ = _load(file)
            warnings = workflow_warnings(wf)
            report.append({"file": str(file), "workflow": wf.name, "valid": True, "issues": [],
                           "warnings": [w.to_dict() for w in warnings]})
            if not as_json:
                out.print(f"[green]✓[/] {escape(str(file))}: workflow '{escape(wf.name)}' is valid ({len(wf.steps)} steps)")
                _print_warnings(warnings, out)
        except WorkflowValidationError as exc:
            failed = True
            report.append({"file": str(file), "valid": False, "issues": [i.to_dict() for i in exc.issues]})
            if not as_json:
                out.print(f"[red]✗[/] {escape(str(file))}: {len(exc.issues)} problem(s)")
                for issue in exc.issues:
                    step = f"step '{issue.step_id}'" if issue.step_id else "workflow"
                    out.print(f"  [bold]VALIDATION_ERROR[/] {escape(step)} [dim]{escape(issue.path)}[/]: {escape(issue.message)}", markup=True, highlight=False)
        except ProjectError as exc:
            failed = True
            report.append({"file": str(file), "valid": False, "issues": [{"code": "VALIDATION_ERROR", "step": None, "path": "", "message": str(exc)}]})
            if not as_json:
                out.print(f"[red]✗[/] {escape(str(exc))}", highlight=False)
    if as_json:
        _emit_json({"valid": not failed, "files": report})
    raise typer.Exit(1 if failed else 0)


@app.command("compile")
def compile_command(file: Path = typer.Argument(..., help="Workflow file."),
                    as_json: bool = typer.Option(False, "--json", help="Accepted for symmetry: the output is JSON already.")) -> None:
    """Print the Amazon States Language document of a workflow (with ${...} placeholders)."""
    try:
        wf, _, _ = _load(file)
    except StepgraphError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1)
    sys.stdout.write(compile_workflow(wf).to_json() + "\n")


def _read_input(value: Optional[str]) -> Any:
    if value is None:
        return {}
    candidate = Path(value)
    if not value.lstrip().startswith(("{", "[")) and candidate.is_file():
        value = candidate.read_text(encoding="utf-8")
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--input is neither a JSON document nor a JSON file: {exc}") from exc


def _print_event(event: Any, as_json: bool) -> None:
    if as_json:
        err.file.write(json.dumps(event.to_dict(), default=str) + "\n")
        err.file.flush()
        return
    time = event.timestamp.strftime("%H:%M:%S.%f")[:-3]
    if event.kind == "step_start":
        err.print(f"[dim]{time}[/] [cyan]▶ {escape(event.name)}[/]", highlight=False)
    elif event.kind == "step_complete":
        preview = json.dumps(event.detail.get("output"), ensure_ascii=False, default=str)
        preview = preview if len(preview) <= 160 else preview[:157] + "..."
        err.print(f"[dim]{time}[/] [green]✓ {escape(event.name)}[/] [dim]{escape(preview)}[/]", highlight=False)
    elif event.kind == "step_failed":
        err.print(f"[dim]{time}[/] [red]✗ {escape(event.name)}[/] {escape(str(event.detail.get('error')))}", highlight=False)
    elif event.kind == "step_retry":
        err.print(f"[dim]{time}[/] [yellow]! attempt failed: {escape(str(event.detail.get('error')))}[/]", highlight=False)
    elif event.kind == "record":
        err.print(f"[dim]{time}   {escape(event.name)}[/]", highlight=False)
    elif event.kind == "chained":
        err.print(f"[dim]{time}[/] [bold magenta]↳ on_complete started workflow {escape(event.name)}[/]", highlight=False)
    elif event.kind == "status":
        err.print(f"[dim]{time}[/] [bold]execution {event.detail.get('status')}[/]", highlight=False)


class ApprovalNeededError(StepgraphError):
    """A local run reached a human_approval step with no way to ask anyone."""


def _ask_approval(approval: Any) -> tuple[str, str]:
    """Ask on the terminal; without a terminal, stop with a hint (nothing would ever answer)."""
    if not sys.stdin.isatty():
        raise ApprovalNeededError(
            f"step '{approval.step_id}' waits for an approval by {', '.join(approval.approvers)} "
            "and there is no terminal to ask on; run again with --approve or --reject"
        )
    from rich.prompt import Confirm, Prompt

    err.print(f"[bold yellow]Approval requested[/] ({escape(approval.step_id)}, approvers: {escape(', '.join(approval.approvers))})", highlight=False)
    err.print(f"  {approval.message}", highlight=False, markup=False)
    approved = Confirm.ask(f"Approve as {approval.approvers[0]}?", console=err)
    comment = Prompt.ask("Comment", default="", console=err)
    return ("approved" if approved else "rejected", comment)


@app.command()
def run(file: Path = typer.Argument(..., help="Workflow file."),
        input: Optional[str] = typer.Option(None, "--input", "-i", help="Execution input: a JSON document or a path to one."),
        approve: bool = typer.Option(False, "--approve", help="Approve every human_approval step."),
        reject: bool = typer.Option(False, "--reject", help="Reject every human_approval step."),
        real_time: bool = typer.Option(False, "--real-time", help="Keep waits and retry back-offs at their real length."),
        as_json: bool = typer.Option(False, "--json", help="Events to stderr as JSON lines; stdout holds only the result record.")) -> None:
    """Run a workflow locally, offline, on the same state machine cdk deploy ships; exit 0 when completed."""
    from .local import LocalEngine

    if approve and reject:
        raise typer.BadParameter("--approve and --reject exclude each other")
    execution_input = _read_input(input)
    try:
        wf, project, note = _load(file)
        if note:
            err.print(note, markup=False, highlight=False)
        if as_json:
            for warning in workflow_warnings(wf):
                err.file.write(json.dumps({"event": "warning", **warning.to_dict()}) + "\n")
        else:
            _print_warnings(workflow_warnings(wf), err)
    except StepgraphError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1)
    decision = "approved" if approve else "rejected" if reject else None
    try:
        with LocalEngine(project, real_time=real_time, approval_decision=decision,
                         start_agents_for=[wf.name]) as engine:
            on_event = lambda e: _print_event(e, as_json)  # noqa: E731
            result = engine.run(wf.name, execution_input, on_event=on_event, on_approval=_ask_approval, follow_chain=False)
            if as_json:
                _emit_json(result.record)
            else:
                out.print_json(json.dumps(result.record, ensure_ascii=False, default=str))
                colour = "green" if result.status == "completed" else "red"
                err.print(f"[{colour}]{result.status}[/] · result record: {escape(str(result.record_path))}", highlight=False)
            engine.follow_chain(result, on_event=on_event, on_approval=_ask_approval)
    except StepgraphError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1)
    _report_chained(result.chained, as_json)
    raise typer.Exit(0 if result.all_completed else 1)


def _report_chained(runs: list, as_json: bool) -> None:
    """Say what the chained (``on_complete``) runs ended with; their events were streamed already."""
    for run in runs:
        if as_json:
            err.file.write(json.dumps({"event": "chained_result", "record": run.record}, default=str) + "\n")
        else:
            colour = "green" if run.status == "completed" else "red"
            err.print(f"[{colour}]chained {escape(str(run.record['workflowName']))}: {run.status}[/] · result record: {escape(str(run.record_path))}", highlight=False)
        _report_chained(run.chained, as_json)


@app.command("render")
def render_command(file: Path = typer.Argument(..., help="Workflow file."),
                   output: Path = typer.Option(..., "--output", "-o", help="Picture to write: .svg, .png, .pdf (Graphviz), .dot/.gv (DOT text) or .mmd (Mermaid text)."),
                   as_json: bool = typer.Option(False, "--json", help="Print {file, output, format} as one JSON document.")) -> None:
    """Draw a workflow's graph: SVG, PNG or PDF with Graphviz, DOT text, or Mermaid text (.mmd)."""
    from .render import output_format, render

    try:
        fmt = output_format(output)
        wf, _, _ = _load(file)
        written = render(wf, output)
    except StepgraphError as exc:
        if as_json:
            issues = [i.to_dict() for i in exc.issues] if isinstance(exc, WorkflowValidationError) else []
            _emit_json({"file": str(file), "output": str(output), "error": str(exc), "issues": issues})
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1)
    if as_json:
        _emit_json({"file": str(file), "output": str(written), "format": fmt})
    else:
        out.print(str(written), highlight=False, markup=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
