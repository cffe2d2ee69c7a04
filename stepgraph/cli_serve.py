"""``stepgraph serve``: the HTTP API of SPEC §9 on 127.0.0.1 over the local engine."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Optional

import typer

from .cli_app import app, err, find_project_root
from .exceptions import StepgraphError

__all__ = ["serve", "DEV_IDENTITY"]

#: The identity of the development token ``serve`` generates when ``STEPGRAPH_API_TOKENS`` is unset.
DEV_IDENTITY = "developer@localhost"
HOST = "127.0.0.1"


def _tokens() -> tuple[dict[str, str], bool]:
    """The configured tokens, or a fresh development token (``True`` when generated)."""
    from .api.auth import TOKENS_ENV, generate_token, parse_tokens

    configured = os.environ.get(TOKENS_ENV, "").strip()
    if configured:
        return parse_tokens(configured), False
    return {generate_token(): DEV_IDENTITY}, True


def _chain_pump(engine, stop: threading.Event, interval: float = 1.0) -> None:
    """Hand finished runs' results-topic deliveries to the chain handler, as the deployed subscription does."""
    while not stop.wait(interval):
        try:
            engine.deliver_chain_messages()
        except Exception as exc:  # noqa: BLE001 - a broken chain must not stop the server
            err.print(f"[yellow]chaining failed:[/] {exc}", highlight=False)


@app.command()
def serve(port: int = typer.Option(8000, "--port", "-p", help="TCP port on 127.0.0.1 (0 picks a free one)."),
          project_dir: Optional[Path] = typer.Option(None, "--project", help="Project folder (default: the one around the current folder)."),
          heartbeat: float = typer.Option(30.0, "--heartbeat", help="Seconds between heartbeat events of a stream."),
          real_time: bool = typer.Option(False, "--real-time", help="Keep waits and retry back-offs at their real length.")) -> None:
    """Serve the execution HTTP API on 127.0.0.1 over the local engine (bearer tokens from STEPGRAPH_API_TOKENS)."""
    import uvicorn

    from .api import TokenAuthenticator, create_app, local_backend
    from .api.auth import TOKENS_ENV
    from .local import LocalEngine
    from .project import load_project

    try:
        tokens, generated = _tokens()
        project = load_project(project_dir or find_project_root(Path.cwd()))
    except (ValueError, StepgraphError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((HOST, port))
    except OSError as exc:
        err.print(f"[red]error:[/] cannot listen on {HOST}:{port}: {exc}", highlight=False)
        raise typer.Exit(1)
    bound = listener.getsockname()[1]
    with LocalEngine(project, real_time=real_time) as engine:
        application = create_app(local_backend(engine), TokenAuthenticator(tokens), heartbeat_seconds=heartbeat)
        err.print(f"stepgraph API on [bold]http://{HOST}:{bound}[/] over the local engine "
                  f"({len(project.workflows)} workflows)", highlight=False)
        err.print(f"web console: [bold]http://{HOST}:{bound}/[/] (sign in with an API token)", highlight=False)
        if generated:
            (token,) = tokens
            err.print(f"development token (identity {DEV_IDENTITY}, valid until this server stops):", highlight=False)
            err.print(f"  export STEPGRAPH_API_TOKEN={token}", highlight=False, markup=False)
            err.print(f"set {TOKENS_ENV}=\"token=finance@example.com,...\" to give approvers tokens of their own",
                      highlight=False, markup=False)
        else:
            err.print(f"{len(tokens)} token(s) from {TOKENS_ENV}: {', '.join(sorted(set(tokens.values())))}", highlight=False)
        stop = threading.Event()
        pump = threading.Thread(target=_chain_pump, args=(engine, stop), name="chain-pump", daemon=True)
        pump.start()
        server = uvicorn.Server(uvicorn.Config(application, log_level="warning", timeout_graceful_shutdown=2))
        try:
            server.run(sockets=[listener])
        finally:
            stop.set()
            pump.join(timeout=5)
