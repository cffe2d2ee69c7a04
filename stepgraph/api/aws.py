"""The deployed API application: ``uvicorn stepgraph.api.aws:app`` behind the Lambda Web Adapter."""

from __future__ import annotations

from .app import create_app
from .auth import CognitoAuthenticator
from .backend import aws_backend
from .console import console_auth_from_env

__all__ = ["app"]

app = create_app(aws_backend(), CognitoAuthenticator(), console_auth=console_auth_from_env())
