"""Outbound HTTP guard shared by the api_call Lambda and the fetch_json tool: no private or metadata addresses.

Standard library only. ``tools.net`` re-exports it for tools (``tools/http.py``).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import quote, urljoin, urlsplit

from . import env

__all__ = (
    "BlockedAddressError",
    "IMDS_ADDRESSES",
    "MAX_REDIRECTS",
    "MAX_RESPONSE_BYTES",
    "NetError",
    "Response",
    "ResponseTooLargeError",
    "TooManyRedirectsError",
    "check_url",
    "display_url",
    "request",
)

#: Redirects followed by ``request`` before it gives up (each hop is checked again).
MAX_REDIRECTS = 5
#: Largest response body ``request`` reads for a successful response, in bytes (5 MB).
MAX_RESPONSE_BYTES = 5 * 1024 * 1024
#: Bytes of an error response (status >= 400) that ``request`` keeps; the rest is discarded.
ERROR_BODY_BYTES = 64 * 1024
#: Bytes asked for per read of a response body.
READ_CHUNK_SIZE = 64 * 1024
#: The EC2/ECS/Lambda instance metadata addresses (IPv4 and the Nitro IPv6 endpoint). They serve
#: the function's credentials, so they are refused even when the host is in ``allowed_hosts``.
IMDS_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
#: ``User-Agent`` sent when the caller sets none.
USER_AGENT = "stepgraph/0.1 (+https://github.com/aws-samples)"

_SCHEMES = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Headers not forwarded when a redirect leaves the original scheme, host and port.
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "content-encoding"})
#: NAT64 prefixes (RFC 6052 well-known and RFC 8215 local-use) that carry an IPv4 address in their last 32 bits.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --------------------------------------------------------------------------- errors


class NetError(Exception):
    """Base class of the errors this module raises (connection failures stay ``OSError``)."""


class BlockedAddressError(NetError, ValueError):
    """The URL is not allowed: bad scheme or form, or its host resolves to a refused address.

    Parameters
    ----------
    message : str
        A sentence naming the host and why it is refused.
    url : str
        The URL that was checked (query string removed).
    host : str, optional
        Its host name.
    address : str, optional
        The refused address, when the refusal is about an address.
    reason : str, optional
        Short reason, e.g. ``"a loopback address"`` or ``"the instance metadata address"``.
    """

    def __init__(
        self, message: str, *, url: str, host: str | None = None, address: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.host = host
        self.address = address
        self.reason = reason


class TooManyRedirectsError(NetError):
    """More than ``max_redirects`` redirects were offered."""


class ResponseTooLargeError(NetError):
    """A successful response body is larger than the byte limit."""


# --------------------------------------------------------------------------- the guard


@dataclass(frozen=True)
class _Target:
    """A checked URL: where to connect (the exact addresses that were checked) and what to send."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[tuple[Any, ...], ...]


def display_url(url: str) -> str:
    """Return ``url`` without credentials, query string and fragment (safe to log and echo in errors).

    Examples
    --------
    >>> display_url("https://user:pw@api.example.com/v1/items?api_key=secret")
    'https://api.example.com/v1/items'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0]
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url.split("?", 1)[0]


def _embedded_ipv4(address: _IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _parse_address(text: str) -> _IPAddress:
    """Parse a resolved address, dropping an IPv6 zone (``fe80::1%eth0``)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def _is_metadata(address: _IPAddress) -> bool:
    embedded = _embedded_ipv4(address)
    return address in IMDS_ADDRESSES or (embedded is not None and embedded in IMDS_ADDRESSES)


def _category(address: _IPAddress) -> str | None:
    """Why an address is refused without an allow-list entry, or ``None`` for a public address.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by the IPv4
    address, which is where the packets end up.
    """
    embedded = _embedded_ipv4(address)
    for candidate in (embedded if embedded is not None else address,):
        if candidate.is_unspecified:
            return "an unspecified address"
        if candidate.is_loopback:
            return "a loopback address"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_multicast:
            return "a multicast address"
        if candidate.is_reserved:
            return "a reserved address"
        if candidate.is_private:
            return "a private address"
        if not candidate.is_global:
            return "a non-public address"
    return None


def _runtime_api_port() -> int | None:
    """Port of the Lambda Runtime API (``AWS_LAMBDA_RUNTIME_API``, e.g. ``127.0.0.1:9001``), if set."""
    value = os.environ.get(env.AWS_LAMBDA_RUNTIME_API, "")
    port = value.rsplit(":", 1)[-1] if ":" in value else ""
    return int(port) if port.isdigit() else None


def _normalize_host(host: str) -> str:
    return host.strip().lower().strip("[]")


def _parse_url(url: Any) -> tuple[str, str, int, str]:
    """Split an http(s) URL into ``(scheme, host, port, request target)``; refuse anything else."""
    if not isinstance(url, str) or not url:
        raise BlockedAddressError(f"the URL must be a non-empty string, got {url!r}", url=str(url))
    shown = display_url(url)
    if any(ch in url for ch in "\r\n\t\x00") or url != url.strip():
        raise BlockedAddressError(f"{shown}: the URL contains whitespace or control characters", url=shown)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedAddressError(f"{shown} is not a valid URL: {exc}", url=shown) from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise BlockedAddressError(
            f"{shown}: only http and https URLs are allowed, not {scheme or 'a URL without a scheme'}",
            url=shown, reason="scheme",
        )
    host = parts.hostname
    if not host:
        raise BlockedAddressError(f"{shown}: the URL has no host", url=shown, reason="no host")
    if parts.username is not None or parts.password is not None:
        raise BlockedAddressError(
            f"{shown}: credentials in the URL are not supported; send an Authorization header instead",
            url=shown, host=host, reason="credentials in URL",
        )
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise BlockedAddressError(f"{shown}: the host name is not valid: {exc}", url=shown, host=host) from exc
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=?~")
    return scheme, host, port or _SCHEMES[scheme], path


def _checked(url: str, allowed_hosts: Iterable[str] = ()) -> _Target:
    """Check ``url`` like ``check_url`` and return where to connect."""
    if isinstance(allowed_hosts, (str, bytes)):
        raise TypeError("allowed_hosts must be a list of host names, not a string")
    scheme, host, port, path = _parse_url(url)
    shown = display_url(url)
    allowed = {_normalize_host(h) for h in allowed_hosts if isinstance(h, str)}
    is_listed = _normalize_host(host) in allowed
    try:
        literal: _IPAddress | None = _parse_address(host)
    except ValueError:
        literal = None
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)  # socket.gaierror (an OSError) on DNS failure
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} resolved to no address")
    runtime_api_port = _runtime_api_port()
    for info in infos:
        text = str(info[4][0])
        try:
            address = _parse_address(text)
        except ValueError as exc:  # pragma: no cover - getaddrinfo returns numeric addresses
            raise BlockedAddressError(
                f"{shown}: {host} resolved to {text!r}, which is not an IP address", url=shown, host=host
            ) from exc
        subject = f"{host} is" if literal is not None else f"{host} resolves to {address},"
        if _is_metadata(address):
            raise BlockedAddressError(
                f"{subject} the instance metadata address; it serves this function's credentials, "
                "so it is refused even when the host is listed in allowed_hosts",
                url=shown, host=host, address=str(address), reason="the instance metadata address",
            )
        category = _category(address)
        if category == "a loopback address" and runtime_api_port is not None and port == runtime_api_port:
            raise BlockedAddressError(
                f"{subject} {category} on port {port}, the Lambda Runtime API; it is refused even when the host "
                "is listed in allowed_hosts",
                url=shown, host=host, address=str(address), reason="the Lambda Runtime API",
            )
        if category is not None and not is_listed:
            raise BlockedAddressError(
                f"{subject} {category}; add {host!r} to allowed_hosts only if the step must reach that internal "
                "service and the URL is not built from untrusted input",
                url=shown, host=host, address=str(address), reason=category,
            )
    return _Target(url=url, scheme=scheme, host=host, port=port, path=path, addresses=tuple(tuple(i) for i in infos))


def check_url(url: str, allowed_hosts: Iterable[str] = ()) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to a non-public address.

    The host is resolved with ``socket.getaddrinfo`` and the URL is refused when ANY resolved
    address is loopback, link-local (``169.254.0.0/16``, ``fe80::/10``), private (``10/8``,
    ``172.16/12``, ``192.168/16``, ``fc00::/7``), unspecified, multicast, reserved or otherwise
    not globally routable (``ipaddress`` properties, also applied to an IPv4 address carried in an
    IPv6 one: mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64) -- unless the host is in
    ``allowed_hosts``. The instance metadata addresses (``169.254.169.254``, ``fd00:ec2::254``)
    and, inside Lambda, the Runtime API's loopback port are refused even when listed.

    Limits: this function checks and returns; a caller that connects by host name afterwards
    resolves it again, and a DNS server that answers differently the second time (DNS rebinding)
    wins that race. ``request`` closes the gap by connecting to the very addresses it checked.
    Proxies (``HTTP_PROXY``) would also defeat the check, so ``request`` never uses them.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` URL without credentials.
    allowed_hosts : iterable of str, default ()
        Host names (exact match, case-insensitive; IP literals allowed, brackets optional) that
        may resolve to non-public addresses.

    Returns
    -------
    None

    Raises
    ------
    BlockedAddressError
        When the URL is malformed, not http(s), carries credentials, or its host resolves to a
        refused address; the message names the host, the address and why.
    OSError
        ``socket.gaierror`` when the host does not resolve.
    TypeError
        When ``allowed_hosts`` is a single string instead of a list.

    Examples
    --------
    >>> check_url("http://169.254.169.254/latest/meta-data/", allowed_hosts=["169.254.169.254"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stepgraph_runtime.net.BlockedAddressError: 169.254.169.254 is the instance metadata address; ...
    """
    _checked(url, allowed_hosts)


# --------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class Response:
    """A final (non-redirect) HTTP response read by ``request``.

    Attributes
    ----------
    status : int
        The status code.
    reason : str
        The reason phrase.
    headers : dict
        Lower-case header name to value (repeated headers joined with ``", "``).
    body : bytes
        The body; for status >= 400 at most ``ERROR_BODY_BYTES`` of it (see ``truncated``).
    url : str
        The final URL, after redirects.
    redirects : int
        Redirects followed.
    truncated : bool
        Whether an error body was cut at ``ERROR_BODY_BYTES``.
    """

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    url: str
    redirects: int = 0
    truncated: bool = False
    elapsed_seconds: float = field(default=0.0, compare=False)

    @property
    def media_type(self) -> str:
        """The ``Content-Type`` without parameters, lower-case (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def is_json(self) -> bool:
        """Whether the ``Content-Type`` is ``application/json`` or a ``+json`` type."""
        media = self.media_type
        return media == "application/json" or media.endswith("+json")

    def text(self) -> str:
        """Decode the body with the ``Content-Type`` charset (default UTF-8, invalid bytes replaced)."""
        match = _CHARSET.search(self.headers.get("content-type", ""))
        charset = match.group(1) if match else "utf-8"
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:  # unknown charset name
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Decode the body as JSON (``None`` for an empty body).

        Raises
        ------
        ValueError
            When the body is not JSON.
        """
        text = self.text()
        return json.loads(text) if text.strip() else None


def _open_socket(addresses: tuple[tuple[Any, ...], ...], timeout: float) -> socket.socket:
    """Connect to the first reachable address of a ``getaddrinfo`` answer (no second lookup)."""
    error: OSError | None = None
    for family, socktype, proto, _canonname, sockaddr in addresses:
        sock = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error if error is not None else OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to checked addresses; ``Host`` still names the URL's host."""

    def __init__(self, target: _Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses

    def connect(self) -> None:
        self.sock = _open_socket(self._addresses, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to checked addresses; SNI and certificate checks use the URL's host."""

    def __init__(self, target: _Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._addresses = target.addresses
        self._tls = context

    def connect(self) -> None:
        sock = _open_socket(self._addresses, self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _remaining(deadline: float, timeout_seconds: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"no complete response within {timeout_seconds:g} s")
    return left


def _read_body(
    response: http.client.HTTPResponse, sock: socket.socket | None, limit: int, *, fail: bool,
    deadline: float, timeout_seconds: float,
) -> tuple[bytes, bool]:
    """Read up to ``limit`` bytes; past it raise (``fail``) or stop and report truncation."""
    declared = response.getheader("Content-Length")
    if fail and declared and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLargeError(f"response larger than {limit // (1024 * 1024)} MB (Content-Length {declared})")
    pieces: list[bytes] = []
    total = 0
    while True:
        if sock is not None:
            try:
                sock.settimeout(_remaining(deadline, timeout_seconds))
            except OSError:  # the socket was already released by http.client; its own timeout applies
                pass
        else:
            _remaining(deadline, timeout_seconds)
        chunk = response.read(READ_CHUNK_SIZE)
        if not chunk:
            return b"".join(pieces), False
        total += len(chunk)
        if total > limit:
            if fail:
                raise ResponseTooLargeError(f"response larger than {limit // (1024 * 1024)} MB")
            pieces.append(chunk[: len(chunk) - (total - limit)])
            return b"".join(pieces), True
        pieces.append(chunk)


def _headers_of(response: http.client.HTTPResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.getheaders():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _origin(target: _Target) -> tuple[str, str, int]:
    return target.scheme, target.host.lower(), target.port


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout_seconds: float = 10.0,
    allowed_hosts: Iterable[str] = (),
    max_redirects: int = MAX_REDIRECTS,
    max_bytes: int = MAX_RESPONSE_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    """Send an HTTP(S) request through the address guard and read the final response.

    Every hop (the URL and each redirect target) goes through ``check_url``, and the connection is
    made to the addresses that were checked (``Host``, SNI and the certificate check still use the
    host name), so a DNS answer that changes between check and connect is never used.
    Redirects (301, 302, 303, 307, 308 with a ``Location``) are followed by hand, at most
    ``max_redirects`` times: 303, and 301/302 after a ``POST``, continue as ``GET`` without a
    body; credentials headers (``Authorization``, ``Cookie``) are dropped when a redirect leaves
    the original scheme, host and port. Proxy environment variables are ignored.

    Parameters
    ----------
    method : str
        HTTP method, upper-case.
    url : str
        The ``http://`` or ``https://`` URL.
    headers : mapping, optional
        Request headers (``User-Agent`` defaults to ``USER_AGENT``).
    body : bytes, optional
        Request body.
    timeout_seconds : float, default 10.0
        Budget for the whole exchange: connecting, every redirect and reading the body.
    allowed_hosts : iterable of str, default ()
        Hosts that may resolve to non-public addresses (see ``check_url``).
    max_redirects : int, default 5
        Redirects followed before ``TooManyRedirectsError``.
    max_bytes : int, default 5 MB
        Largest body of a successful (status < 400) response.
    ssl_context : ssl.SSLContext, optional
        TLS settings; default ``ssl.create_default_context()`` (system CAs, hostname checked).

    Returns
    -------
    Response
        The final response (any status, including 4xx and 5xx).

    Raises
    ------
    BlockedAddressError
        When the URL or a redirect target is refused by the guard.
    TooManyRedirectsError
        After more than ``max_redirects`` redirects.
    ResponseTooLargeError
        When a successful response's body exceeds ``max_bytes``.
    TimeoutError
        When the exchange takes longer than ``timeout_seconds``.
    OSError
        On DNS failures (``socket.gaierror``), refused or reset connections and TLS failures
        (``ssl.SSLError``; ``ssl.SSLCertVerificationError`` for a certificate that does not verify).
    http.client.HTTPException
        When the server breaks the HTTP protocol (bad status line, incomplete body).

    Examples
    --------
    >>> request("GET", "https://api.example.com/items", timeout_seconds=5).json()  # doctest: +SKIP
    {'items': [...]}
    """
    started = time.monotonic()
    deadline = started + timeout_seconds
    method = method.upper()
    sent_headers = {str(k): str(v) for k, v in (headers or {}).items()}
    if not any(k.lower() == "user-agent" for k in sent_headers):
        sent_headers["User-Agent"] = USER_AGENT
    context = ssl_context or ssl.create_default_context()
    current = url
    first: _Target | None = None
    for hop in range(max_redirects + 1):
        try:
            target = _checked(current, allowed_hosts)
        except BlockedAddressError as exc:
            if hop == 0:
                raise
            raise BlockedAddressError(
                f"redirect {hop} from {display_url(url)} to {display_url(current)} refused: {exc.message}",
                url=exc.url, host=exc.host, address=exc.address, reason=exc.reason,
            ) from exc
        first = first or target
        if _origin(target) != _origin(first):
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
        timeout = _remaining(deadline, timeout_seconds)
        if target.scheme == "https":
            conn: http.client.HTTPConnection = _PinnedHTTPSConnection(target, timeout, context)
        else:
            conn = _PinnedHTTPConnection(target, timeout)
        try:
            conn.request(method, target.path, body=body, headers=sent_headers)
            sock = conn.sock
            if sock is not None:
                sock.settimeout(_remaining(deadline, timeout_seconds))
            response = conn.getresponse()
            location = response.getheader("Location")
            if response.status in _REDIRECTS and location:
                if hop == max_redirects:
                    raise TooManyRedirectsError(
                        f"{display_url(url)} redirected more than {max_redirects} times (last to {display_url(location)})"
                    )
                current = urljoin(current, location.strip())
                if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                    method = "GET" if method != "HEAD" else "HEAD"
                    body = None
                    sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in _BODY_HEADERS}
                continue
            is_error = response.status >= 400
            data, truncated = _read_body(
                response, sock, ERROR_BODY_BYTES if is_error else max_bytes, fail=not is_error,
                deadline=deadline, timeout_seconds=timeout_seconds,
            )
            return Response(
                status=response.status,
                reason=response.reason or "",
                headers=_headers_of(response),
                body=data,
                url=current,
                redirects=hop,
                truncated=truncated,
                elapsed_seconds=time.monotonic() - started,
            )
        finally:
            conn.close()
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
