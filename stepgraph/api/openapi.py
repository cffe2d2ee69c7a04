"""The API's OpenAPI document, generated from the code: ``python -m stepgraph.api.openapi > docs/openapi.json``.

The document in the repository is checked against this output by ``tests/api/test_openapi.py``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["openapi_document", "render"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of :func:`stepgraph.api.create_app`."""
    from .app import create_app
    from .auth import TokenAuthenticator
    from .backend import Backend

    # building the document calls no route: a backend with nothing behind it will do
    nothing = Backend(stepfunctions=None, catalog=None, approvals=None, deltas=None, stop_execution=lambda arn, cause: None)  # type: ignore[arg-type]
    app = create_app(nothing, TokenAuthenticator({"unused": "unused"}))
    return app.openapi()


def render() -> str:
    """The document as the repository keeps it (sorted keys, two-space indent, final newline)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
