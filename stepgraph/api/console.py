"""The web console: static files served at ``/`` by the API application, and the page's sign-in settings.

The console (``static/``: plain HTML, CSS and JavaScript modules, no build step) uses only the
public ``/api`` routes with a bearer token. Two things are served outside ``/api``, without
authentication and outside the OpenAPI document: the files themselves and ``GET /config.json``,
which tells the page how to sign in:

* ``{"auth": "token"}`` — ``stepgraph serve``: the user pastes an API token (kept in
  ``sessionStorage`` only);
* ``{"auth": "cognito", "authorize_url", "token_url", "logout_url", "client_id", "scopes"}`` —
  deployed: the Cognito hosted UI, OAuth 2.0 authorization code flow with PKCE (RFC 7636); the
  stack sets them in :data:`CONSOLE_AUTH_ENV`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from stepgraph_runtime import env

__all__ = ["CONSOLE_AUTH_ENV", "STATIC", "TOKEN_AUTH", "cognito_auth", "console_auth_from_env", "install_console"]

#: The console's files.
STATIC = Path(__file__).resolve().parent / "static"
#: Environment variable of the deployed API function: the console's Cognito settings (JSON).
CONSOLE_AUTH_ENV = env.CONSOLE_AUTH
#: Sign-in settings of ``stepgraph serve``.
TOKEN_AUTH: Mapping[str, str] = {"auth": "token"}
_COGNITO_KEYS = ("authorize_url", "token_url", "logout_url", "client_id", "scopes")


def cognito_auth(domain_url: str, client_id: str) -> dict[str, str]:
    """The console's settings for a Cognito user pool domain and app client.

    Parameters
    ----------
    domain_url:
        The domain's base URL, e.g. ``https://stepgraph-123.auth.us-east-1.amazoncognito.com``.
    client_id:
        The public app client (no secret) whose callback URL is the console's address.

    Returns
    -------
    dict
        ``{"auth": "cognito", ...}`` with the hosted UI's ``/oauth2/authorize``,
        ``/oauth2/token`` and ``/logout`` endpoints (Cognito user pool endpoints reference).

    Examples
    --------
    >>> cognito_auth("https://x.auth.eu-west-1.amazoncognito.com/", "abc")["token_url"]
    'https://x.auth.eu-west-1.amazoncognito.com/oauth2/token'
    """
    base = domain_url.rstrip("/")
    return {"auth": "cognito", "authorize_url": f"{base}/oauth2/authorize", "token_url": f"{base}/oauth2/token",
            "logout_url": f"{base}/logout", "client_id": client_id, "scopes": "openid email"}


def console_auth_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The deployed console's settings from :data:`CONSOLE_AUTH_ENV` (``{"domain_url", "client_id"}``).

    Raises
    ------
    ValueError
        When the variable is missing or lacks ``domain_url``/``client_id``.
    """
    raw = (environ if environ is not None else os.environ).get(CONSOLE_AUTH_ENV, "")
    try:
        settings = json.loads(raw)
        return cognito_auth(settings["domain_url"], settings["client_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{CONSOLE_AUTH_ENV} must be JSON {{\"domain_url\": ..., \"client_id\": ...}}, got {raw!r}") from exc


def _security_headers(auth: Mapping[str, Any]) -> dict[str, str]:
    """A strict Content-Security-Policy: the console's own files, its API, and the token endpoint."""
    connect = ["'self'"]
    if auth.get("token_url"):
        parts = urlsplit(str(auth["token_url"]))
        connect.append(f"{parts.scheme}://{parts.netloc}")
    policy = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              f"connect-src {' '.join(connect)}; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache"}


def install_console(app: FastAPI, auth: Mapping[str, Any] | None = None) -> None:
    """Serve the console on ``app``: ``/`` (the page), ``/console/*`` (its files), ``/config.json``.

    Parameters
    ----------
    app:
        The API application.
    auth:
        :data:`TOKEN_AUTH` (default) or :func:`cognito_auth`'s settings.

    Raises
    ------
    ValueError
        For a Cognito setting without one of its endpoints or the client id.
    """
    auth = dict(auth or TOKEN_AUTH)
    if auth.get("auth") == "cognito" and any(not auth.get(k) for k in _COGNITO_KEYS):
        raise ValueError(f"Cognito console settings need {', '.join(_COGNITO_KEYS)}")
    headers = _security_headers(auth)

    @app.get("/", include_in_schema=False)
    def console_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=headers)

    @app.get("/config.json", include_in_schema=False)
    def console_config() -> JSONResponse:
        return JSONResponse(auth, headers={"Cache-Control": "no-store"})

    app.mount("/console", StaticFiles(directory=STATIC), name="console")
