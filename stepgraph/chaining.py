"""Chaining across workflows (SPEC §5): which upstream results start which downstream workflows.

The stack and the local engine both read this module, so the subscription filter policies
they create are the same.
"""

from __future__ import annotations

from typing import Mapping

from .model import Workflow

__all__ = ["chain_routes", "filter_policy"]

_STATUSES = {"completed": ["completed"], "failed": ["failed"], "any": ["completed", "failed"]}


def chain_routes(workflows: Mapping[str, Workflow]) -> dict[str, list[dict[str, str]]]:
    """``{upstream: [{"workflow": downstream, "when": ...}]}`` for every workflow with ``on_complete``."""
    return {
        name: [{"workflow": t.workflow, "when": t.when} for t in wf.on_complete]
        for name, wf in sorted(workflows.items())
        if wf.on_complete
    }


def filter_policy(upstream: str, targets: list[dict[str, str]]) -> dict[str, list[str]]:
    """SNS subscription filter policy matching the results that start one of ``targets``.

    Examples
    --------
    >>> filter_policy("a", [{"workflow": "b", "when": "completed"}])
    {'workflowName': ['a'], 'status': ['completed']}
    """
    statuses = sorted({s for t in targets for s in _STATUSES[t.get("when", "completed")]})
    return {"workflowName": [upstream], "status": statuses}
