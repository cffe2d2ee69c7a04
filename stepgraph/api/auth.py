"""Who calls the API: bearer tokens locally, the Cognito authorizer's verified claims on AWS (SPEC §9 "Identity").

Every ``/api`` request is authenticated before its body is read; an anonymous or unknown
caller gets 401 and nothing runs. The result is a :class:`~stepgraph.identity.VerifiedIdentity`,
the only thing approvals accept as a decider.

* :class:`TokenAuthenticator` (``stepgraph serve``): ``Authorization: Bearer <token>``, tokens
  mapped to identities by ``STEPGRAPH_API_TOKENS="tok1=finance@example.com,tok2=ops@example.com"``.
* :class:`CognitoAuthenticator` (deployed): API Gateway's Cognito user pool authorizer checks the
  JWT before the Lambda runs; the Lambda Web Adapter forwards the request context, claims
  included, in the ``x-amzn-request-context`` header and overwrites any such header a client
  sends (aws-lambda-web-adapter ``src/lib.rs`` ``fetch_response``; changelog 1.0.0, #286).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Mapping, Protocol

from starlette.requests import HTTPConnection

from ..identity import VerifiedIdentity
from .errors import ApiError

__all__ = [
    "Authenticator",
    "CognitoAuthenticator",
    "TOKENS_ENV",
    "TokenAuthenticator",
    "generate_token",
    "parse_tokens",
]

#: Environment variable of ``stepgraph serve``'s tokens: ``token=identity`` pairs separated by commas.
TOKENS_ENV = "STEPGRAPH_API_TOKENS"
#: The header in which the Lambda Web Adapter passes API Gateway's request context.
REQUEST_CONTEXT_HEADER = "x-amzn-request-context"


class Authenticator(Protocol):
    """Turns a request into a verified identity, or raises ``ApiError(401)``."""

    def authenticate(self, request: HTTPConnection) -> VerifiedIdentity:  # pragma: no cover - a protocol
        ...


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": 'Bearer realm="stepgraph"'})


def parse_tokens(text: str) -> dict[str, str]:
    """Read ``"tok1=finance@example.com,tok2=ops@example.com"`` into ``{token: identity}``.

    Raises
    ------
    ValueError
        For a pair without ``=``, an empty token or identity, or a token given twice.
    """
    tokens: dict[str, str] = {}
    for i, pair in enumerate(p.strip() for p in text.split(",")):
        if not pair:
            continue
        token, sep, identity = (part.strip() for part in pair.partition("="))
        if not sep or not token or not identity:
            raise ValueError(f"{TOKENS_ENV} entry {i + 1} must be token=identity, e.g. tok1=finance@example.com")
        if token in tokens:
            raise ValueError(f"{TOKENS_ENV} lists the same token twice (entries for {tokens[token]} and {identity})")
        tokens[token] = identity
    return tokens


def generate_token() -> str:
    """A fresh random development token (32 URL-safe characters from :mod:`secrets`)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class TokenAuthenticator:
    """Bearer tokens mapped to identities (``stepgraph serve``).

    Parameters
    ----------
    tokens:
        ``{token: identity}``, e.g. from :func:`parse_tokens`. Must not be empty.

    Raises
    ------
    ValueError
        For an empty mapping (nobody could call the API).
    """

    tokens: Mapping[str, str]

    def __post_init__(self) -> None:
        if not self.tokens:
            raise ValueError("no API tokens configured")

    def authenticate(self, request: HTTPConnection) -> VerifiedIdentity:
        """The identity of the request's bearer token.

        Raises
        ------
        ApiError
            401 without ``Authorization: Bearer <token>`` or with an unknown token.
        """
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("authentication required: send Authorization: Bearer <token>")
        match = None
        for known, identity in self.tokens.items():  # compare every token in constant time
            if hmac.compare_digest(known.encode("utf-8"), token.encode("utf-8")):
                match = identity
        if match is None:
            raise _unauthenticated("unknown bearer token")
        return VerifiedIdentity(match, "token")


@dataclass(frozen=True)
class CognitoAuthenticator:
    """The identity API Gateway's Cognito user pool authorizer verified (deployed API).

    The subject is the ``email`` claim when ``email_verified`` is true (approvers are listed by
    e-mail address), else the ``cognito:username`` claim.
    """

    def authenticate(self, request: HTTPConnection) -> VerifiedIdentity:
        """The identity in the authorizer's claims.

        Raises
        ------
        ApiError
            401 when the request context carries no claims (the request did not come through
            the authorizer).
        """
        raw = request.headers.get(REQUEST_CONTEXT_HEADER)
        try:
            context = json.loads(raw) if raw else {}
        except ValueError:
            context = {}
        claims = (context.get("authorizer") or {}).get("claims") if isinstance(context, dict) else None
        if not isinstance(claims, dict):
            raise _unauthenticated("authentication required: send a Cognito ID token as Authorization: Bearer <token>")
        email = claims.get("email")
        if isinstance(email, str) and email and str(claims.get("email_verified", "")).lower() == "true":
            return VerifiedIdentity(email, "cognito")
        username = claims.get("cognito:username")
        if isinstance(username, str) and username:
            return VerifiedIdentity(username, "cognito")
        raise _unauthenticated("the token carries neither a verified email nor a cognito:username claim")
