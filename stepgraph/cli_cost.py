"""``stepgraph cost FILE``: what an execution costs, path by path, before anything deploys (SPEC §13)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from .cli_app import app, emit_json, err, out
from .compiler import compile_workflow
from .cost import HISTORY_EVENT_LIMIT, Assumptions, estimate
from .exceptions import StepgraphError

__all__ = ["cost_command"]


@app.command("cost")
def cost_command(file: Path = typer.Argument(..., help="Workflow file."),
                 executions: int = typer.Option(1000, "--executions", "-n", min=1, help="Executions to price."),
                 agent_seconds: float = typer.Option(10.0, "--agent-seconds", min=0, help="Active seconds per agent invocation."),
                 loop_items: int = typer.Option(10, "--loop-items", min=0, help="Items each loop runs."),
                 as_json: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """Predict state transitions, Lambda invocations and price per execution and per N executions, per path."""
    from .cli import _load  # the command module shares stepgraph.cli's file loading

    try:
        wf, _, _ = _load(file)
        compiled = compile_workflow(wf)
    except StepgraphError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1)
    assumptions = Assumptions(loop_items=loop_items, agent_seconds=agent_seconds)
    report = estimate(compiled.definition, workflow=wf.name, assumptions=assumptions)
    if as_json:
        emit_json(report.to_dict(executions))
        return
    out.print(f"[bold]{escape(wf.name)}[/]: {len(report.paths)} path(s); us-east-1 prices; "
              f"loops of {loop_items} items, agents {agent_seconds:g} s", highlight=False)
    for path in report.to_dict(executions)["paths"]:
        route = ", ".join(path["decisions"]) or "one path"
        out.print(f"  [cyan]{escape(route)}[/] ({path['outcome']})", highlight=False)
        out.print(f"    {path['transitions']} transitions · {path['lambda_invocations']} Lambda invocations "
                  f"({path['agent_invocations']} agent) · {path['lambda_gb_seconds']:g} GB-s · "
                  f"~{path['history_events']} history events", highlight=False)
        by = ", ".join(f"{k} ${v:.6f}" for k, v in path["price_by_service_usd"].items() if v)
        out.print(f"    ${path['price_per_execution_usd']:.6f} per execution ({by}); "
                  f"${path['price_usd']:.2f} per {executions:,} executions", highlight=False)
        if path["history_events"] > HISTORY_EVENT_LIMIT:
            out.print(f"    [yellow]over the {HISTORY_EVENT_LIMIT:,} history events of one execution: use mode: distributed[/]", highlight=False)
    if report.truncated:
        out.print(f"  [yellow]only the first {len(report.paths)} paths are shown[/]", highlight=False)
