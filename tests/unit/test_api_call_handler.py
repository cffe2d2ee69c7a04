"""Tests for lambdas/api_call/handler.py against a real HTTP server on 127.0.0.1 (no other network)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest
from lambda_support import FakeLambdaContext
from lambda_support import load_handler as load_lambda_handler

ROOT = Path(__file__).resolve().parents[2]
HANDLER_PATH = ROOT / "lambdas" / "api_call" / "handler.py"
if str(ROOT) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not put the repo root on sys.path
    sys.path.insert(0, str(ROOT))

from tools import net  # noqa: E402

LOCAL = ["127.0.0.1"]
FIVE_MB = 5 * 1024 * 1024
IMDS_URL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


# ----------------------------------------------------------------------------- helpers


def load_handler() -> ModuleType:
    """Import the handler by path (``lambdas`` is not a package)."""
    return load_lambda_handler("api_call")


class _Handler(BaseHTTPRequestHandler):
    """Routes by path; every request is recorded on the server."""

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None, length: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server.requests.append((self.command, self.path, dict(self.headers.items()), body))  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        port = server.server_address[1]
        if path == "/json":
            self._send(200, json.dumps({"ok": True, "items": [1, 2]}).encode(), "application/json", {"X-Trace": "t-1"})
        elif path == "/problem-json":
            self._send(200, b'{"kind": "problem"}', "application/problem+json")
        elif path == "/empty-json":
            self._send(200, b"", "application/json")
        elif path == "/bad-json":
            self._send(200, b"{not json", "application/json")
        elif path == "/text":
            self._send(200, "héllo wörld".encode("utf-8"), "text/plain; charset=utf-8")
        elif path == "/latin1":
            self._send(200, "café".encode("latin-1"), "text/html; charset=ISO-8859-1")
        elif path == "/missing":
            self._send(404, b"not found: " + b"x" * 600)
        elif path == "/conflict":
            self._send(409, b'{"error": "version conflict"}', "application/json")
        elif path == "/throttled":
            self._send(429, b"slow down", headers={"Retry-After": "7"})
        elif path == "/throttled-bare":
            self._send(429, b"slow down")
        elif path == "/broken":
            self._send(500, b"boom")
        elif path == "/unavailable":
            self._send(503, b"maintenance")
        elif path == "/slow":
            server.stop.wait(3)  # type: ignore[attr-defined]
            self._send(200, b"{}", "application/json")
        elif path == "/imds":
            self._send(302, headers={"Location": IMDS_URL})
        elif path == "/redirect":
            self._send(302, headers={"Location": "/json"})
        elif path == "/loop":
            self._send(302, headers={"Location": "/loop"})
        elif path == "/see-other":
            self._send(303, headers={"Location": "/echo"})
        elif path == "/temporary":
            self._send(307, headers={"Location": "/echo"})
        elif path == "/cross-host":
            self._send(302, headers={"Location": f"http://api.internal.test:{port}/echo"})
        elif path == "/ftp":
            self._send(302, headers={"Location": "ftp://127.0.0.1/file"})
        elif path == "/not-modified":
            self._send(304, length=False)
        elif path == "/echo":
            echoed = {"method": self.command, "path": self.path,
                      "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode("utf-8")}
            self._send(200, json.dumps(echoed).encode(), "application/json")
        elif path == "/large":
            self._send(200, b"a" * (FIVE_MB + 1), "application/octet-stream")
        elif path == "/large-stream":  # no Content-Length: the body ends when the connection closes
            self._send(200, content_type="text/plain", length=False)
            chunk = b"b" * 65536
            for _ in range(FIVE_MB // len(chunk) + 2):
                self.wfile.write(chunk)
        elif path == "/five-mb":
            self._send(200, b"c" * FIVE_MB, "text/plain")
        else:
            self._send(404, b"no route")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _route  # noqa: N815


def start_server(context: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.requests = []  # type: ignore[attr-defined]
    httpd.stop = threading.Event()  # type: ignore[attr-defined]
    httpd.handle_error = lambda request, address: None  # type: ignore[method-assign] - clients that hang up
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def stop_server(httpd: ThreadingHTTPServer) -> None:
    httpd.stop.set()  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def httpd() -> Iterator[ThreadingHTTPServer]:
    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture()
def base(httpd) -> str:
    httpd.requests.clear()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return load_handler()


def call(handler: ModuleType, url: str, **fields: Any) -> Any:
    return handler.call_api({"url": url, "step_id": "api", **fields})


def resolve_also(monkeypatch: pytest.MonkeyPatch, name: str, address: str = "127.0.0.1") -> None:
    """Make ``name`` resolve to ``address`` (other names resolve for real)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real(address if host == name else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# ----------------------------------------------------------------------------- success


def test_call_api_json_response_is_decoded(handler, base):
    result = call(handler, f"{base}/json", allowed_hosts=LOCAL)
    assert result["status_code"] == 200
    assert result["body"] == {"ok": True, "items": [1, 2]}
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-trace"] == "t-1"
    assert all(name == name.lower() for name in result["headers"])
    json.dumps(result)


@pytest.mark.parametrize(
    "path, body",
    [("/text", "héllo wörld"), ("/latin1", "café"), ("/problem-json", {"kind": "problem"}), ("/empty-json", None)],
)
def test_call_api_body_is_decoded_by_content_type(handler, base, path, body):
    assert call(handler, f"{base}{path}", allowed_hosts=LOCAL)["body"] == body


def test_call_api_final_3xx_is_returned(handler, base):
    result = call(handler, f"{base}/not-modified", allowed_hosts=LOCAL)
    assert result["status_code"] == 304
    assert result["body"] == ""


def test_call_api_head_returns_headers_without_body(handler, base):
    result = call(handler, f"{base}/json", method="head", allowed_hosts=LOCAL)
    assert result["status_code"] == 200
    assert result["body"] is None  # application/json with no body


def test_call_api_dict_body_is_sent_as_json(handler, base):
    result = call(handler, f"{base}/echo?x=1", method="POST", body={"order_id": "ORD-1", "qty": 2},
                  headers={"X-Api-Key": "k-1", "X-Count": 3, "X-Flag": True, "X-Dropped": None}, allowed_hosts=LOCAL)
    echoed = result["body"]
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo?x=1"
    assert json.loads(echoed["body"]) == {"order_id": "ORD-1", "qty": 2}
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["x-api-key"] == "k-1"
    assert echoed["headers"]["x-count"] == "3"
    assert echoed["headers"]["x-flag"] == "true"
    assert "x-dropped" not in echoed["headers"]
    assert echoed["headers"]["user-agent"].startswith("stepgraph/")


def test_call_api_list_body_keeps_explicit_content_type(handler, base):
    result = call(handler, f"{base}/echo", method="PUT", body=[1, 2],
                  headers={"content-type": "application/vnd.api+json"}, allowed_hosts=LOCAL)
    assert result["body"]["headers"]["content-type"] == "application/vnd.api+json"
    assert result["body"]["body"] == "[1,2]"


def test_call_api_string_body_is_sent_as_is(handler, base):
    result = call(handler, f"{base}/echo", method="POST", body="a=1&b=ü",
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, allowed_hosts=LOCAL)
    assert result["body"]["body"] == "a=1&b=ü"
    assert result["body"]["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_call_api_redirect_is_followed(handler, base, httpd):
    result = call(handler, f"{base}/redirect", allowed_hosts=LOCAL)
    assert result["body"] == {"ok": True, "items": [1, 2]}
    assert [r[1] for r in httpd.requests] == ["/redirect", "/json"]


def test_call_api_303_redirect_continues_as_get_without_body(handler, base):
    echoed = call(handler, f"{base}/see-other", method="POST", body={"a": 1}, allowed_hosts=LOCAL)["body"]
    assert echoed["method"] == "GET"
    assert echoed["body"] == ""
    assert "content-type" not in echoed["headers"]


def test_call_api_307_redirect_keeps_method_and_body(handler, base):
    echoed = call(handler, f"{base}/temporary", method="POST", body={"a": 1}, allowed_hosts=LOCAL)["body"]
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == {"a": 1}


def test_call_api_cross_host_redirect_drops_credentials(handler, base, monkeypatch):
    resolve_also(monkeypatch, "api.internal.test")
    echoed = call(handler, f"{base}/cross-host", headers={"Authorization": "Bearer t", "X-Other": "kept"},
                  allowed_hosts=["127.0.0.1", "api.internal.test"])["body"]
    assert "authorization" not in echoed["headers"]
    assert echoed["headers"]["x-other"] == "kept"
    assert echoed["headers"]["host"].startswith("api.internal.test:")


def test_call_api_response_of_exactly_5_mb_is_accepted(handler, base):
    assert len(call(handler, f"{base}/five-mb", allowed_hosts=LOCAL)["body"]) == FIVE_MB


def test_lambda_handler_returns_response(handler, base):
    result = handler.lambda_handler({"url": f"{base}/json", "allowed_hosts": LOCAL}, FakeLambdaContext())
    assert result["status_code"] == 200


# ----------------------------------------------------------------------------- the guard


def test_call_api_loopback_without_allowed_hosts_raises_tool_error(handler, base, httpd):
    with pytest.raises(handler.TOOL_ERROR) as info:
        call(handler, f"{base}/json")
    message = str(info.value)
    assert "127.0.0.1 is a loopback address" in message
    assert "allowed_hosts" in message
    assert httpd.requests == []  # nothing was sent


def test_call_api_localhost_name_is_refused_as_loopback(handler, base, httpd):
    with pytest.raises(handler.TOOL_ERROR, match="localhost resolves to .*, a loopback address"):
        call(handler, base.replace("127.0.0.1", "localhost") + "/json")
    assert httpd.requests == []


def test_call_api_metadata_address_is_refused_even_when_listed(handler):
    with pytest.raises(handler.TOOL_ERROR) as info:
        call(handler, IMDS_URL, allowed_hosts=["169.254.169.254"])
    assert "169.254.169.254 is the instance metadata address" in str(info.value)


def test_call_api_redirect_to_metadata_address_is_refused(handler, base, httpd):
    with pytest.raises(handler.TOOL_ERROR) as info:
        call(handler, f"{base}/imds", allowed_hosts=["127.0.0.1", "169.254.169.254"])
    message = str(info.value)
    assert "redirect 1" in message
    assert "instance metadata address" in message
    assert [r[1] for r in httpd.requests] == ["/imds"]


def test_call_api_redirect_to_unlisted_private_host_is_refused(handler, base, monkeypatch, httpd):
    resolve_also(monkeypatch, "api.internal.test")
    with pytest.raises(handler.TOOL_ERROR, match="api.internal.test resolves to 127.0.0.1, a loopback address"):
        call(handler, f"{base}/cross-host", allowed_hosts=LOCAL)
    assert [r[1] for r in httpd.requests] == ["/cross-host"]


def test_call_api_redirect_to_other_scheme_is_refused(handler, base):
    with pytest.raises(handler.TOOL_ERROR, match="only http and https"):
        call(handler, f"{base}/ftp", allowed_hosts=LOCAL)


def test_call_api_too_many_redirects_raises_tool_error(handler, base, httpd):
    with pytest.raises(handler.TOOL_ERROR, match="redirected more than 5 times"):
        call(handler, f"{base}/loop", allowed_hosts=LOCAL)
    assert len(httpd.requests) == 6


def test_call_api_public_host_resolving_to_private_address_is_refused(handler, monkeypatch):
    calls: list[Any] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(handler.TOOL_ERROR, match="api.example.test resolves to 10.0.0.5, a private address"):
        call(handler, "https://api.example.test/orders")
    assert calls == ["api.example.test"]


# ----------------------------------------------------------------------------- error codes


def test_call_api_404_raises_tool_error_with_status_and_body_start(handler, base):
    with pytest.raises(handler.TOOL_ERROR) as info:
        call(handler, f"{base}/missing", allowed_hosts=LOCAL)
    message = str(info.value)
    assert message.startswith(f"GET {base}/missing answered 404 Not Found: not found: xxx")
    assert "x" * 489 + "..." in message and "x" * 490 not in message  # 500 characters of the body
    assert info.value.status_code == 404


def test_call_api_409_json_error_quotes_body(handler, base):
    with pytest.raises(handler.TOOL_ERROR, match=r'409 Conflict: \{"error": "version conflict"\}'):
        call(handler, f"{base}/conflict", method="PATCH", body={}, allowed_hosts=LOCAL)


def test_call_api_429_raises_rate_limit_with_retry_after(handler, base):
    with pytest.raises(handler.RATE_LIMIT) as info:
        call(handler, f"{base}/throttled", allowed_hosts=LOCAL)
    assert "429" in str(info.value) and "Retry-After: 7" in str(info.value)
    assert info.value.retry_after == "7"


def test_call_api_429_without_retry_after_says_so(handler, base):
    with pytest.raises(handler.RATE_LIMIT, match="no Retry-After header"):
        call(handler, f"{base}/throttled-bare", allowed_hosts=LOCAL)


@pytest.mark.parametrize("path, status", [("/broken", 500), ("/unavailable", 503)])
def test_call_api_5xx_raises_upstream_error(handler, base, path, status):
    with pytest.raises(handler.UPSTREAM_ERROR, match=f"answered {status}") as info:
        call(handler, f"{base}{path}", allowed_hosts=LOCAL)
    assert info.value.status_code == status


def test_call_api_slow_response_raises_timeout(handler, base):
    with pytest.raises(handler.TIMEOUT, match="did not complete within 1 s"):
        call(handler, f"{base}/slow", timeout_seconds=1, allowed_hosts=LOCAL)


def test_lambda_handler_caps_timeout_to_remaining_time(handler, base):
    with pytest.raises(handler.TIMEOUT, match="within 1 s"):
        handler.lambda_handler({"url": f"{base}/slow", "timeout_seconds": 300, "allowed_hosts": LOCAL},
                               FakeLambdaContext(remaining_ms=3_000))


def test_call_api_connection_refused_raises_upstream_error(handler):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(handler.UPSTREAM_ERROR, match="ConnectionRefusedError"):
        call(handler, f"http://127.0.0.1:{port}/", allowed_hosts=LOCAL)


def test_call_api_dns_failure_raises_upstream_error(handler, monkeypatch):
    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(handler.UPSTREAM_ERROR, match="gaierror"):
        call(handler, "https://nowhere.example.test/")


@pytest.mark.parametrize("path", ["/large", "/large-stream"])
def test_call_api_response_over_5_mb_raises_tool_error(handler, base, path):
    with pytest.raises(handler.TOOL_ERROR, match="response larger than 5 MB"):
        call(handler, f"{base}{path}", allowed_hosts=LOCAL)


def test_call_api_json_content_type_with_bad_body_raises_tool_error(handler, base):
    with pytest.raises(handler.TOOL_ERROR, match="body is not JSON"):
        call(handler, f"{base}/bad-json", allowed_hosts=LOCAL)


@pytest.mark.parametrize(
    "event, match",
    [
        ({"url": "file:///etc/passwd"}, "only http and https"),
        ({"url": "http://user:pw@example.test/"}, "credentials in the URL"),
        ({"url": "http://example.test/", "method": "TRACE"}, "'method' must be one of"),
        ({"url": "http://example.test/", "method": "CONNECT"}, "'method' must be one of"),
        ({}, "'url' must be a non-empty string"),
        ({"url": "http://example.test/", "headers": {"X-A": "1\r\nInjected: yes"}}, "line break"),
        ({"url": "http://example.test/", "headers": {"Bad Name": "1"}}, "not a valid HTTP token"),
        ({"url": "http://example.test/", "headers": {"X-A": {"nested": 1}}}, "string, number or boolean"),
        ({"url": "http://example.test/", "headers": "X-A: 1"}, "'headers' must be a JSON object"),
        ({"url": "http://example.test/", "timeout_seconds": 0}, "'timeout_seconds'"),
        ({"url": "http://example.test/", "timeout_seconds": 901}, "'timeout_seconds'"),
        ({"url": "http://example.test/", "allowed_hosts": "example.test"}, "'allowed_hosts'"),
        ({"url": 5, "method": 7}, "2 problems"),
        ("not an event", "event must be a JSON object"),
    ],
)
def test_call_api_bad_event_raises_tool_error(handler, event, match, monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: pytest.fail(f"connected to {address}"))
    with pytest.raises(handler.TOOL_ERROR, match=match):
        handler.call_api(event)


def test_call_api_error_message_hides_query_string(handler, base):
    with pytest.raises(handler.TOOL_ERROR) as info:
        call(handler, f"{base}/missing?api_key=s3cr3t", allowed_hosts=LOCAL)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    "path, fields, code",
    [
        ("/json", {}, "TOOL_ERROR"),
        ("/missing", {"allowed_hosts": LOCAL}, "TOOL_ERROR"),
        ("/throttled", {"allowed_hosts": LOCAL}, "RATE_LIMIT"),
        ("/broken", {"allowed_hosts": LOCAL}, "UPSTREAM_ERROR"),
        ("/slow", {"allowed_hosts": LOCAL, "timeout_seconds": 1}, "TIMEOUT"),
    ],
)
def test_lambda_handler_error_type_is_the_code(handler, base, path, fields, code):
    with pytest.raises(Exception) as info:
        handler.lambda_handler({"url": f"{base}{path}", **fields}, FakeLambdaContext())
    assert type(info.value).__name__ == code


# ----------------------------------------------------------------------------- HTTPS


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    """An HTTPS server with a self-signed certificate for ``localhost`` and 127.0.0.1; yields (server, CA PEM path)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = start_server(context)
    yield server, str(cert_path)
    stop_server(server)


def test_request_https_connects_to_checked_address_with_host_name_verification(tls, monkeypatch):
    server, ca = tls
    port = server.server_address[1]
    resolve_also(monkeypatch, "localhost", "127.0.0.1")
    context = ssl.create_default_context(cafile=ca)
    response = net.request("GET", f"https://localhost:{port}/json", allowed_hosts=["localhost"], ssl_context=context)
    assert response.status == 200
    assert response.json() == {"ok": True, "items": [1, 2]}


def test_call_api_https_untrusted_certificate_raises_tool_error(handler, tls):
    server, _ = tls
    with pytest.raises(handler.TOOL_ERROR, match="TLS certificate does not verify"):
        call(handler, f"https://127.0.0.1:{server.server_address[1]}/json", allowed_hosts=LOCAL)
