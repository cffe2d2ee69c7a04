"""The execution HTTP API of SPEC §9: workflows, executions, live event streams, approvals.

``create_app(backend, authenticator)`` builds the FastAPI application; ``stepgraph serve`` runs
it over the local engine (:func:`local_backend`, :class:`TokenAuthenticator`), the deployed
stack runs it in Lambda behind API Gateway (:func:`aws_backend`, :class:`CognitoAuthenticator`).
"""

from .app import BODY_LIMITS, DEFAULT_HEARTBEAT_SECONDS, create_app
from .auth import TOKENS_ENV, CognitoAuthenticator, TokenAuthenticator, generate_token, parse_tokens
from .backend import Backend, aws_backend, local_backend

__all__ = (
    "BODY_LIMITS",
    "Backend",
    "CognitoAuthenticator",
    "DEFAULT_HEARTBEAT_SECONDS",
    "TOKENS_ENV",
    "TokenAuthenticator",
    "aws_backend",
    "create_app",
    "generate_token",
    "local_backend",
    "parse_tokens",
)
