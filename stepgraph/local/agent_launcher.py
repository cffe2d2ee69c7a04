"""Runs an agent's entrypoint as ``__main__`` with every uvicorn server bound to 127.0.0.1.

Usage (what :class:`stepgraph.local.agentcore.AgentProcess` runs)::

    python agent_launcher.py <entrypoint> [args...]

An agent written for its container binds ``0.0.0.0``: ``BedrockAgentCoreApp.run`` does so by
itself when ``/.dockerenv`` exists or ``DOCKER_CONTAINER`` is set (bedrock-agentcore 1.25.0,
``runtime/app.py``), and FastAPI agents often call ``uvicorn.run(app, host="0.0.0.0")``.
Locally that would expose the agent to the network, so the launcher fixes the host of
``uvicorn.Config`` (through which ``uvicorn.run`` and ``BedrockAgentCoreApp.run`` go) to
``127.0.0.1`` before the entrypoint runs. Whatever else an agent binds is caught by the
check after start (:func:`stepgraph.local.sockets.non_loopback_listeners`).
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any

#: The only address a local agent listens on.
LOOPBACK = "127.0.0.1"


def force_loopback() -> bool:
    """Make every ``uvicorn.Config`` bind :data:`LOOPBACK`; ``False`` when uvicorn is not installed."""
    try:
        import uvicorn.config
    except ImportError:
        return False
    original = uvicorn.config.Config.__init__
    if getattr(original, "_stepgraph_loopback", False):
        return True

    def init(self: Any, app: Any, *args: Any, **kwargs: Any) -> None:
        if args:  # Config(app, host, port, ...): host is the first after app
            args = (LOOPBACK, *args[1:])
        else:
            kwargs["host"] = LOOPBACK
        original(self, app, *args, **kwargs)

    init._stepgraph_loopback = True  # type: ignore[attr-defined]
    uvicorn.config.Config.__init__ = init  # type: ignore[method-assign]
    return True


def main(argv: list[str]) -> None:
    """Run ``argv[0]`` (the entrypoint, relative to the working directory) as ``python argv[0]`` would."""
    if not argv:
        raise SystemExit("usage: agent_launcher.py <entrypoint> [args...]")
    entrypoint = argv[0]
    force_loopback()
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(entrypoint))  # as `python main.py` sets it
    runpy.run_path(entrypoint, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
