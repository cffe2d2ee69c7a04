"""Names derived from workflow and agent names: construct ids, output ids, resource names."""

from __future__ import annotations

import re

from stepgraph.naming import pascal

__all__ = ["pascal", "state_machine_name"]


def state_machine_name(prefix: str, workflow_name: str) -> str:
    """Return the state machine name of a workflow: ``<prefix>-<workflow name>``.

    Step Functions allows 1–80 characters of ``[A-Za-z0-9_-]``; a workflow name has at most
    64, so a prefix of up to 15 characters always fits.

    Raises
    ------
    ValueError
        When the result is too long or holds a character Step Functions rejects.

    Examples
    --------
    >>> state_machine_name("Stepgraph", "customer-support")
    'Stepgraph-customer-support'
    """
    name = f"{prefix}-{workflow_name}" if prefix else workflow_name
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name):
        raise ValueError(
            f"state machine name {name!r} must be 1-80 characters of [A-Za-z0-9_-]; "
            "shorten stepgraph:stackPrefix or the workflow name"
        )
    return name
