"""The console is served by the API application: its page with a strict CSP, its files, config.json; /api stays guarded."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():  # starlette's TestClient on httpx (pinned by the project) warns on import only
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from stepgraph.api import TokenAuthenticator, create_app
from stepgraph.api.backend import Backend
from stepgraph.api.console import CONSOLE_AUTH_ENV, cognito_auth, console_auth_from_env


def _client(console_auth=None) -> TestClient:
    nothing = Backend(stepfunctions=None, catalog=None, approvals=None, deltas=None, stop_execution=lambda arn, cause: None)
    return TestClient(create_app(nothing, TokenAuthenticator({"tok": "dev@example.com"}), console_auth=console_auth))


def test_console_page_and_files_are_served_without_a_token_with_a_strict_policy():
    client = _client()
    page = client.get("/")
    assert page.status_code == 200 and 'src="console/app.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy and "frame-ancestors 'none'" in policy
    assert client.get("/console/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/config.json").json() == {"auth": "token"}
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Bearer tok"}).json() == {"subject": "dev@example.com", "method": "token"}


def test_deployed_console_config_names_the_hosted_ui_and_allows_only_its_token_endpoint():
    settings = console_auth_from_env({CONSOLE_AUTH_ENV: '{"domain_url": "https://sg.auth.eu-west-1.amazoncognito.com", "client_id": "c1"}'})
    assert settings == cognito_auth("https://sg.auth.eu-west-1.amazoncognito.com", "c1")
    client = _client(settings)
    assert client.get("/config.json").json()["authorize_url"] == "https://sg.auth.eu-west-1.amazoncognito.com/oauth2/authorize"
    assert "connect-src 'self' https://sg.auth.eu-west-1.amazoncognito.com;" in client.get("/").headers["content-security-policy"]


def test_deployed_console_config_without_settings_says_what_is_missing():
    with pytest.raises(ValueError, match=CONSOLE_AUTH_ENV):
        console_auth_from_env({})
