"""Lambda that sends the HTTP request of an api_call step, refusing private and instance-metadata addresses."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
from typing import Any

from aws_lambda_powertools import Logger

# The address guard and the request loop (stdlib only) are shared with the ``fetch_json`` tool,
# so there is one guard to audit. ``net.request`` never re-sends a request: an answer, a reset or
# a timeout reaches the step as an error, and only the step's ``retry`` sends it again.
from stepgraph_runtime import env, net, offload
from stepgraph_runtime.errors import RATE_LIMIT, TIMEOUT, TOOL_ERROR, StepError

__all__ = (
    "ApiCallError",
    "METHODS",
    "RATE_LIMIT",
    "TIMEOUT",
    "TOOL_ERROR",
    "UPSTREAM_ERROR",
    "call_api",
    "lambda_handler",
)

logger = Logger(service=env.service_name())

#: Methods an api_call step may use (the same list validation accepts).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: Timeout used when the event carries no ``timeout_seconds``.
DEFAULT_TIMEOUT_SECONDS = 30
#: Longest timeout accepted (a Lambda runs at most 900 s).
MAX_TIMEOUT_SECONDS = 900
#: Seconds kept back from the Lambda's remaining time so ``TIMEOUT`` is raised before the sandbox is killed.
LAMBDA_SAFETY_MARGIN_SECONDS = 2.0
#: Characters of an error response's body quoted in the error message.
ERROR_BODY_CHARS = 500

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


# --------------------------------------------------------------------------- errors

#: The errors this Lambda raises share one base class (the six codes: :mod:`stepgraph_runtime.errors`).
ApiCallError = StepError


class UPSTREAM_ERROR(StepError):  # noqa: N801 - the class name is the Step Functions error code
    """The server answered 5xx, or could not be reached (DNS failure, refused, reset, TLS or protocol
    failure). Transient by nature: the compiled state retries it, then reports it as ``TOOL_ERROR``."""

    code = "UPSTREAM_ERROR"


#: Readable aliases (STYLE.md names errors with an ``Error`` suffix).
RateLimitError = RATE_LIMIT
UpstreamError = UPSTREAM_ERROR
ApiTimeoutError = TIMEOUT
ApiToolError = TOOL_ERROR


# --------------------------------------------------------------------------- request


def _headers(raw: Any, issues: list[str]) -> dict[str, str]:
    """Header templates rendered to strings; ``null`` values are dropped."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        issues.append(f"'headers' must be a JSON object, got {type(raw).__name__}")
        return {}
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            issues.append(f"header name {name!r} is not a valid HTTP token")
            continue
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = json.dumps(value)
        elif not isinstance(value, str):
            issues.append(f"header {name!r} must be a string, number or boolean, got {type(value).__name__}")
            continue
        if any(ch in value for ch in "\r\n\x00"):
            issues.append(f"header {name!r} contains a line break or NUL")
            continue
        headers[name] = value
    return headers


def _secret_value(name: str) -> str:
    """A Secrets Manager secret's string value, read at call time (cached 5 minutes by Powertools)."""
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(name, max_age=300)
    except parameters.exceptions.GetParameterError as exc:
        raise TOOL_ERROR(f"secret {name!r} could not be read from Secrets Manager: {exc}") from None
    return value if isinstance(value, str) else json.dumps(value)


def _with_secrets(raw: Any, secret_headers: Any, allowed: Any, issues: list[str]) -> Any:
    """Join the parts of the headers the compiled step marks as holding secrets.

    Only the headers named in the step's literal ``secret_headers``, and only the secrets in its
    literal ``secrets`` list, are resolved: a ``{"secret": ...}`` object anywhere else (say, from
    the execution input) is refused like any other non-string header value.
    """
    if not secret_headers:
        return raw
    if not isinstance(raw, dict) or not isinstance(secret_headers, list) or not isinstance(allowed, list):
        issues.append("'secret_headers' and 'secrets' must be lists and 'headers' an object")
        return raw
    headers = dict(raw)
    for name in secret_headers:
        parts = headers.get(name, {}).get("parts") if isinstance(headers.get(name), dict) else None
        if not isinstance(parts, list):
            issues.append(f"header {name!r} holds no secret parts")
            continue
        text = []
        for part in parts:
            if isinstance(part, dict) and set(part) == {"secret"} and part["secret"] in allowed:
                text.append(_secret_value(str(part["secret"])))
            elif isinstance(part, str):
                text.append(part)
            else:
                issues.append(f"header {name!r} has a part that is neither text nor one of the step's secrets")
                break
        headers[name] = "".join(text)
    return headers


def _validated(event: Any) -> tuple[str, str, dict[str, str], Any, float, list[str], str | None]:
    """Check the event's fields, collecting every problem before raising ``TOOL_ERROR`` once."""
    if not isinstance(event, dict):
        raise TOOL_ERROR(f"event must be a JSON object, got {type(event).__name__}")
    step_id = event.get("step_id") if isinstance(event.get("step_id"), str) else None
    issues: list[str] = []
    url = event.get("url")
    if not isinstance(url, str) or not url.strip():
        issues.append(f"'url' must be a non-empty string, got {url!r}")
    method = event.get("method") or "GET"
    if not isinstance(method, str) or method.upper() not in METHODS:
        issues.append(f"'method' must be one of {', '.join(METHODS)}, got {method!r}")
    else:
        method = method.upper()
    headers = _headers(_with_secrets(event.get("headers"), event.get("secret_headers"), event.get("secrets"), issues), issues)
    timeout = event.get("timeout_seconds")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_SECONDS
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        issues.append(f"'timeout_seconds' must be a number of seconds in (0, {MAX_TIMEOUT_SECONDS}], got {timeout!r}")
    allowed = event.get("allowed_hosts") or []
    if not isinstance(allowed, list) or not all(isinstance(h, str) and h for h in allowed):
        issues.append(f"'allowed_hosts' must be a list of host names, got {allowed!r}")
        allowed = []
    if issues:
        raise TOOL_ERROR(
            f"invalid api_call event ({len(issues)} problem{'s' if len(issues) > 1 else ''}): " + "; ".join(issues),
            step_id=step_id,
        )
    return url, method, headers, event.get("body"), float(timeout), allowed, step_id


def _encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    """A string is sent as is (UTF-8); any other JSON value as JSON with ``Content-Type: application/json``."""
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode(response: net.Response, where: str, step_id: str | None) -> Any:
    """The body: decoded JSON for a JSON ``Content-Type``, else text."""
    if not response.is_json:
        return response.text()
    try:
        return response.json()
    except ValueError as exc:
        raise TOOL_ERROR(
            f"{where} answered {response.status} with Content-Type {response.media_type} but the body is not JSON: "
            f"{exc}; starts with {response.text()[:ERROR_BODY_CHARS]!r}",
            step_id=step_id, status_code=response.status,
        ) from exc


def _status_error(response: net.Response, where: str, step_id: str | None) -> ApiCallError | None:
    """``RATE_LIMIT`` for 429, ``UPSTREAM_ERROR`` for 5xx, ``TOOL_ERROR`` for other 4xx, else ``None``."""
    status = response.status
    if status < 400:
        return None
    text = response.text()
    snippet = text[:ERROR_BODY_CHARS] + ("..." if len(text) > ERROR_BODY_CHARS or response.truncated else "")
    answered = f"{where} answered {status} {response.reason}".rstrip()
    if status == 429:
        retry_after = response.headers.get("retry-after")
        hint = f"Retry-After: {retry_after}" if retry_after else "no Retry-After header"
        return RATE_LIMIT(f"{answered}; {hint}", retry_after=retry_after, step_id=step_id, status_code=status)
    if status >= 500:
        return UPSTREAM_ERROR(f"{answered}: {snippet}", step_id=step_id, status_code=status)
    return TOOL_ERROR(f"{answered}: {snippet}", step_id=step_id, status_code=status)


def call_api(event: dict[str, Any], *, remaining_time_ms: int | None = None) -> dict[str, Any]:
    """Send the event's HTTP request through the address guard and return the response.

    The URL and every redirect (followed by hand, at most 5) are checked by ``stepgraph_runtime.net.check_url``:
    a host resolving to a loopback, private, link-local, unspecified, multicast, reserved or
    otherwise non-public address is refused unless listed in ``allowed_hosts``; the instance
    metadata address is refused even when listed. The connection goes to the addresses that were
    checked. Only the standard library is used (``http.client`` via ``stepgraph_runtime.net.request``).

    Parameters
    ----------
    event : dict
        ``{"url": str, "method": "GET", "headers": {name: value}, "body": <any JSON>,
        "timeout_seconds": 30, "allowed_hosts": [host, ...], "step_id": str}``; only ``url`` is
        required. A string ``body`` is sent as is; any other JSON value is sent as JSON with
        ``Content-Type: application/json`` unless ``headers`` sets one. ``null`` header values
        are dropped; numbers and booleans are sent as JSON text.
    remaining_time_ms : int, optional
        The Lambda's remaining time; the budget is cut to it minus ``LAMBDA_SAFETY_MARGIN_SECONDS``.

    Returns
    -------
    dict
        ``{"status_code": int, "headers": {lower-case name: value}, "body": Any}`` for a 2xx or a
        final 3xx response: ``body`` is the decoded JSON when the ``Content-Type`` is
        ``application/json`` or ``*+json`` (``null`` when empty), else the text.

    Raises
    ------
    RATE_LIMIT
        On 429 (the message carries ``Retry-After``).
    UPSTREAM_ERROR
        On 5xx, DNS failures, refused or reset connections, TLS and HTTP protocol failures.
    TIMEOUT
        When the exchange does not complete within ``timeout_seconds``.
    TOOL_ERROR
        On other 4xx (status and the first 500 characters of the body), a refused address (naming
        the host and why), a bad URL, method or event, more than 5 redirects, a body over 5 MB,
        a certificate that does not verify, or a JSON ``Content-Type`` with a body that is not JSON.

    Examples
    --------
    >>> call_api({"url": "https://api.example.com/orders/42", "method": "GET"})  # doctest: +SKIP
    {'status_code': 200, 'headers': {'content-type': 'application/json', ...}, 'body': {'id': 42, ...}}
    """
    url, method, headers, body, timeout, allowed, step_id = _validated(event)
    budget = timeout
    if remaining_time_ms is not None:
        budget = max(1.0, min(budget, remaining_time_ms / 1000.0 - LAMBDA_SAFETY_MARGIN_SECONDS))
    where = f"{method} {net.display_url(url)}"
    try:
        data = _encode_body(body, headers)
    except (TypeError, ValueError) as exc:
        raise TOOL_ERROR(f"{where}: body is not JSON-serialisable: {exc}", step_id=step_id) from exc
    keys = {"step_id": step_id, "method": method, "url": net.display_url(url),
            "workflow_name": event.get("workflow_name"), "execution_name": event.get("execution_name")}
    logger.info("sending request", extra={**keys, "body_bytes": len(data or b""), "timeout_seconds": budget,
                                          "allowed_hosts": allowed})
    started = time.monotonic()
    error: ApiCallError
    try:
        response = net.request(method, url, headers=headers, body=data, timeout_seconds=budget, allowed_hosts=allowed)
    except net.BlockedAddressError as exc:
        error = TOOL_ERROR(f"{where} refused: {exc.message}", step_id=step_id)
        cause: BaseException = exc
    except net.TooManyRedirectsError as exc:
        error, cause = TOOL_ERROR(f"{where}: {exc}", step_id=step_id), exc
    except net.ResponseTooLargeError as exc:
        error, cause = TOOL_ERROR(f"{where}: {exc}", step_id=step_id), exc
    except TimeoutError as exc:  # before OSError: socket.timeout is a TimeoutError
        error, cause = TIMEOUT(f"{where} did not complete within {budget:g} s ({exc})", step_id=step_id), exc
    except ssl.SSLCertVerificationError as exc:
        error = TOOL_ERROR(f"{where}: the server's TLS certificate does not verify: {exc.verify_message or exc}",
                           step_id=step_id)
        cause = exc
    except (OSError, http.client.HTTPException) as exc:
        error = UPSTREAM_ERROR(f"{where} failed: {type(exc).__name__}: {exc}", step_id=step_id)
        cause = exc
    except ValueError as exc:  # anything http.client refuses to send
        error, cause = TOOL_ERROR(f"{where} cannot be sent: {exc}", step_id=step_id), exc
    else:
        duration_ms = int((time.monotonic() - started) * 1000)
        logger.info("response received", extra={**keys, "status_code": response.status, "redirects": response.redirects,
                                                 "body_bytes": len(response.body), "duration_ms": duration_ms})
        status_error = _status_error(response, where, step_id)
        if status_error is not None:
            logger.warning("request failed", extra={**keys, "error_code": status_error.code,
                                                    "status_code": response.status})
            raise status_error
        return {"status_code": response.status, "headers": response.headers,
                "body": _decode(response, where, step_id)}
    logger.warning("request failed", extra={**keys, "error_code": error.code, "exception": type(cause).__name__,
                                            "duration_ms": int((time.monotonic() - started) * 1000)})
    raise error from cause


def _remaining_ms(context: Any) -> int | None:
    """Return the Lambda context's remaining time in ms, or ``None`` without a real context."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() if callable(getter) else None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """Lambda entry point: see ``call_api``; errors surface under their code as ``errorType``.

    An offloaded value in the body is fetched first — only this execution's own, verified
    (:func:`stepgraph_runtime.offload.resolve`) — and a response too large for Step Functions goes
    to S3 by reference.
    """
    workflow = str(event.get("workflow_name") or "unknown") if isinstance(event, dict) else "unknown"
    execution = str(event.get("execution_name") or "unknown") if isinstance(event, dict) else "unknown"
    if isinstance(event, dict) and event.get("body") is not None:
        event = {**event, "body": offload.resolve(event["body"], workflow=workflow, execution=execution,
                                                  step=event.get("step_id"))}
    response = call_api(event, remaining_time_ms=_remaining_ms(context))
    return offload.offload(response, workflow=workflow, execution=execution, step=str(event.get("step_id") or "api"))
