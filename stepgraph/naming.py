"""Names derived from workflow and agent names, shared by the stacks and the deployed-app commands."""

from __future__ import annotations

import re

__all__ = ["pascal"]

_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


def pascal(name: str) -> str:
    """Return ``name`` as PascalCase letters and digits, usable in a CloudFormation logical id.

    The stacks build output ids with it (``StateMachineArn<Pascal name>``) and
    :mod:`stepgraph.deployment` reads them back with it.

    Examples
    --------
    >>> pascal("customer-support")
    'CustomerSupport'
    >>> pascal("support_agent")
    'SupportAgent'
    """
    return "".join(part[:1].upper() + part[1:] for part in _SEPARATORS.split(name) if part)
