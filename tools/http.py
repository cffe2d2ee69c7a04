"""Built-in tool ``fetch_json``: GET a JSON document over HTTP(S) through the address guard of ``tools.net``."""

# This module is ``tools.http``; it never shadows the standard library's ``http`` because it is
# only imported as part of the ``tools`` package (never put the ``tools/`` folder itself on sys.path).

from __future__ import annotations

import os
from typing import Any

from . import RATE_LIMIT, TIMEOUT, tool
from .net import display_url, request

__all__ = ("ALLOWED_HOSTS", "FetchError", "fetch_json")

#: Hosts ``fetch_json`` may reach even when they resolve to private addresses. Set by whoever
#: deploys the app (environment variable ``STEPGRAPH_FETCH_JSON_ALLOWED_HOSTS``, comma-separated),
#: never by a step's arguments, which may be rendered from untrusted input. Default: none.
ALLOWED_HOSTS: tuple[str, ...] = tuple(
    h.strip() for h in os.environ.get("STEPGRAPH_FETCH_JSON_ALLOWED_HOSTS", "").split(",") if h.strip()
)


class FetchError(Exception):
    """The server answered something other than a JSON document (an error status or another type).

    Parameters
    ----------
    message : str
        What happened, with the status and the start of the body.
    status : int, optional
        The HTTP status.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@tool(description="GET a JSON document from a public http(s) URL")
def fetch_json(url: str, timeout_seconds: float = 10, headers: dict | None = None) -> Any:
    """GET a JSON document from a public HTTP(S) URL.

    The URL and every redirect (at most 5) pass the address guard of ``tools.net.check_url``:
    hosts resolving to loopback, private, link-local (the instance metadata address included) or
    other non-public addresses are refused, unless listed in ``ALLOWED_HOSTS``. The body is
    parsed as JSON whatever its ``Content-Type``; at most 5 MB is read.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL.
    timeout_seconds : float, default 10
        Budget for the whole request, redirects and body included.
    headers : dict, optional
        Extra request headers (``Accept`` defaults to ``application/json``).

    Returns
    -------
    Any
        The decoded JSON document (``None`` for an empty body).

    Raises
    ------
    tools.net.BlockedAddressError
        When the URL or a redirect target is refused.
    RATE_LIMIT
        When the server answers 429 (the message carries ``Retry-After``).
    TIMEOUT
        When the response does not arrive within ``timeout_seconds``.
    FetchError
        When the server answers a status other than 2xx, or a body that is not JSON.
    tools.net.ResponseTooLargeError
        When the body is larger than 5 MB.
    OSError
        When the host does not resolve or the connection fails.

    Examples
    --------
    >>> fetch_json("https://api.github.com/repos/aws/aws-cdk")["full_name"]  # doctest: +SKIP
    'aws/aws-cdk'
    """
    if not isinstance(url, str):
        raise ValueError(f"url must be a string, got {type(url).__name__}")
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or not 0 < timeout_seconds <= 900:
        raise ValueError(f"timeout_seconds must be a number of seconds in (0, 900], got {timeout_seconds!r}")
    if headers is not None and not isinstance(headers, dict):
        raise ValueError(f"headers must be an object, got {type(headers).__name__}")
    sent = {str(k): str(v) for k, v in (headers or {}).items() if v is not None}
    if not any(k.lower() == "accept" for k in sent):
        sent["Accept"] = "application/json"
    try:
        response = request("GET", url, headers=sent, timeout_seconds=float(timeout_seconds), allowed_hosts=ALLOWED_HOSTS)
    except TimeoutError as exc:
        raise TIMEOUT(f"GET {display_url(url)} timed out after {timeout_seconds:g} s: {exc}") from exc
    where = display_url(response.url)
    if response.status == 429:
        retry_after = response.headers.get("retry-after")
        raise RATE_LIMIT(
            f"GET {where} answered 429 Too Many Requests; "
            + (f"Retry-After: {retry_after}" if retry_after else "no Retry-After header")
        )
    if not 200 <= response.status < 300:
        raise FetchError(
            f"GET {where} answered {response.status} {response.reason}: {response.text()[:500]}",
            status=response.status,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise FetchError(
            f"GET {where} did not return JSON (Content-Type {response.media_type or 'none'}): {exc}",
            status=response.status,
        ) from exc
