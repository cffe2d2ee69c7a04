"""A minimal client of the HTTP API for the command line (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ..exceptions import StepgraphError

__all__ = ["ApiClientError", "call_api", "URL_ENV", "TOKEN_ENV"]

#: Where the CLI finds the API and its token when ``--api``/``--token`` are not given.
URL_ENV = "STEPGRAPH_API_URL"
TOKEN_ENV = "STEPGRAPH_API_TOKEN"


class ApiClientError(StepgraphError):
    """The API answered with an error (``status``, ``code`` and its message), or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


def call_api(base_url: str, token: str, method: str, path: str, body: Any = None, *, timeout: float = 30.0) -> Any:
    """Send one authenticated request and return the decoded JSON answer.

    Parameters
    ----------
    base_url:
        ``http://127.0.0.1:8000`` (``stepgraph serve``) or the deployed stage URL.
    token:
        A bearer token: one of ``STEPGRAPH_API_TOKENS`` locally, a Cognito ID token on AWS.
    method, path:
        ``"POST"``, ``"/api/approvals/<id>"``.
    body:
        A JSON-serializable body, or ``None``.

    Raises
    ------
    ApiClientError
        With the API's ``code`` and ``message`` for an error answer, or when unreachable.
    """
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the URL is the user's API
            raw = response.read()
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read() or b"{}")
        except ValueError:
            error = {}
        raise ApiClientError(f"{error.get('code', exc.code)}: {error.get('message', exc.reason)}",
                             status=exc.code, code=error.get("code")) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ApiClientError(f"cannot reach the API at {base_url}: {exc}") from exc
    return json.loads(raw) if raw else None
