"""Authentication: bearer tokens (local) and the Cognito authorizer's claims forwarded by the Lambda Web Adapter."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

from stepgraph.api.auth import CognitoAuthenticator, TokenAuthenticator, parse_tokens
from stepgraph.api.errors import ApiError
from stepgraph.identity import VerifiedIdentity


def _request(headers: dict[str, str]) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/workflows",
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


def test_parse_tokens_reads_pairs_and_rejects_malformed_ones():
    assert parse_tokens("tok1=finance@example.com, tok2=ops@example.com") == {
        "tok1": "finance@example.com", "tok2": "ops@example.com"}
    for bad in ("tok1", "=finance@example.com", "tok1=", "t=a@example.com,t=b@example.com"):
        with pytest.raises(ValueError):
            parse_tokens(bad)


def test_token_authenticator_maps_a_known_token_and_refuses_others():
    auth = TokenAuthenticator({"tok-a": "a@example.com"})
    assert auth.authenticate(_request({"Authorization": "Bearer tok-a"})) == VerifiedIdentity("a@example.com", "token")
    for headers in ({}, {"Authorization": "Bearer tok-b"}, {"Authorization": "tok-a"}):
        with pytest.raises(ApiError) as caught:
            auth.authenticate(_request(headers))
        assert caught.value.status == 401
    with pytest.raises(ValueError):
        TokenAuthenticator({})


def test_cognito_authenticator_reads_the_verified_email_claim():
    context = {"authorizer": {"claims": {"email": "cfo@example.com", "email_verified": "true", "cognito:username": "u-1"}}}
    identity = CognitoAuthenticator().authenticate(_request({"x-amzn-request-context": json.dumps(context)}))
    assert identity == VerifiedIdentity("cfo@example.com", "cognito")
    unverified = {"authorizer": {"claims": {"email": "cfo@example.com", "email_verified": "false", "cognito:username": "u-1"}}}
    assert CognitoAuthenticator().authenticate(
        _request({"x-amzn-request-context": json.dumps(unverified)})).subject == "u-1"


def test_cognito_authenticator_refuses_a_request_without_authorizer_claims():
    for headers in ({}, {"x-amzn-request-context": "{}"}, {"x-amzn-request-context": "not json"},
                    {"Authorization": "Bearer forged"}):
        with pytest.raises(ApiError) as caught:
            CognitoAuthenticator().authenticate(_request(headers))
        assert caught.value.status == 401
