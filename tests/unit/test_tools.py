"""Tests for the tool registry (tools/), the built-in tools and the address guard of tools/net.py."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not put the repo root on sys.path
    sys.path.insert(0, str(ROOT))

import tools  # noqa: E402
import tools.http  # noqa: E402
from tools import net  # noqa: E402
from tools.net import BlockedAddressError, check_url  # noqa: E402


# ----------------------------------------------------------------------------- helpers


def fake_resolver(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Make ``socket.getaddrinfo`` answer ``table[host]`` (other hosts resolve for real); return the hosts asked."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        if host in table:
            answers = []
            for address in table[host]:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port or 80, 0, 0) if family == socket.AF_INET6 else (address, port or 80)
                answers.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return answers
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture()
def no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to open a TCP connection."""

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"unexpected connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/doc":
            self._send(200, json.dumps({"items": [1, 2], "accept": self.headers.get("Accept")}).encode(), "application/json")
        elif self.path == "/plain-json":
            self._send(200, b'{"typed": false}', "text/plain")
        elif self.path == "/text":
            self._send(200, b"not json at all", "text/plain")
        elif self.path == "/throttled":
            self._send(429, b"slow down", "text/plain", {"Retry-After": "12"})
        elif self.path == "/missing":
            self._send(404, b"no such document", "text/plain")
        elif self.path == "/slow":
            self.server.stop.wait(3)  # type: ignore[attr-defined]
            self._send(200, b"{}", "application/json")
        elif self.path == "/imds":
            self._send(302, b"", "text/plain", {"Location": "http://169.254.169.254/latest/meta-data/"})
        else:
            self._send(404, b"?", "text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.stop = threading.Event()  # type: ignore[attr-defined]
    httpd.handle_error = lambda request, address: None  # type: ignore[method-assign] - client hung up on /slow
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.stop.set()  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def scratch_tools() -> Iterator[None]:
    """Names registered during a test are removed afterwards."""
    before = set(tools.REGISTRY)
    yield
    for name in set(tools.REGISTRY) - before:
        del tools.REGISTRY[name]


# ----------------------------------------------------------------------------- registry


def test_import_tools_registers_builtin_tools():
    assert {"lookup_order", "fetch_json"} <= set(tools.REGISTRY)
    assert tools.REGISTRY["lookup_order"].function is tools.orders.lookup_order
    assert tools.REGISTRY["fetch_json"].function is tools.http.fetch_json
    assert all(tool.description for tool in tools.REGISTRY.values())


def test_public_names_are_listed_in_all():
    assert {"REGISTRY", "tool", "get_tool", "Tool", "UnknownToolError", "RATE_LIMIT", "TIMEOUT"} <= set(tools.__all__)
    for name in tools.__all__:
        assert hasattr(tools, name), name


def test_tool_decorator_registers_function_under_its_name(scratch_tools):
    @tools.tool(description="Add two numbers")
    def add_numbers(a: int, b: int = 1) -> int:
        return a + b

    registered = tools.get_tool("add_numbers")
    assert registered.name == "add_numbers"
    assert registered.description == "Add two numbers"
    assert registered(a=2, b=3) == 5
    assert add_numbers(2) == 3  # returned unchanged
    assert list(registered.signature.parameters) == ["a", "b"]


def test_tool_decorator_with_explicit_name_and_docstring_description(scratch_tools):
    @tools.tool("shout")
    def make_loud(text: str) -> str:
        """Upper-case a text.

        More words that are not the description.
        """
        return text.upper()

    assert "make_loud" not in tools.REGISTRY
    assert tools.get_tool("shout").description == "Upper-case a text."
    assert tools.get_tool("shout")(text="hi") == "HI"


def test_tool_decorator_without_parentheses_registers_function(scratch_tools):
    @tools.tool
    def bare_tool() -> str:
        return "ok"

    assert tools.get_tool("bare_tool")() == "ok"


def test_tool_decorator_duplicate_name_raises(scratch_tools):
    with pytest.raises(tools.DuplicateToolError, match="lookup_order.*already registered"):
        @tools.tool("lookup_order")
        def other(order_id: str) -> None:
            return None

    assert tools.REGISTRY["lookup_order"].function is tools.orders.lookup_order


@pytest.mark.parametrize("name", ["Bad", "1abc", "a-b", "", "_x", "a" * 65, "with space"])
def test_tool_decorator_invalid_name_raises(scratch_tools, name):
    with pytest.raises(tools.InvalidToolError, match="invalid tool name"):
        tools.tool(name)(lambda: None)
    assert name not in tools.REGISTRY


def test_tool_decorator_name_of_64_characters_is_accepted(scratch_tools):
    name = "a" + "b" * 63
    tools.tool(name)(lambda: None)
    assert name in tools.REGISTRY


def test_tool_decorator_positional_only_parameters_raise(scratch_tools):
    def positional(a, /):
        return a

    with pytest.raises(tools.InvalidToolError, match="positional-only"):
        tools.tool("positional")(positional)


def test_get_tool_unknown_name_raises_key_error_listing_tools():
    with pytest.raises(KeyError) as info:
        tools.get_tool("no_such_tool")
    assert isinstance(info.value, tools.UnknownToolError)
    message = str(info.value)
    assert message.startswith("unknown tool 'no_such_tool'")
    assert "fetch_json" in message and "lookup_order" in message


# ----------------------------------------------------------------------------- lookup_order


def test_lookup_order_by_order_id_returns_the_order():
    order = tools.orders.lookup_order(order_id="ORD-1002")
    assert order["order_id"] == "ORD-1002"
    assert order["status"] == "shipped"
    assert order["customer_id"] == "cust-1001"
    assert order["currency"] == "USD"
    json.dumps(order)


def test_lookup_order_ids_match_case_insensitively():
    assert tools.orders.lookup_order(order_id=" ord-2001 ")["order_id"] == "ORD-2001"


def test_lookup_order_by_customer_id_returns_the_customers_orders():
    orders = tools.orders.lookup_order(customer_id="CUST-1001")
    assert [o["order_id"] for o in orders] == ["ORD-1001", "ORD-1002", "ORD-1003"]
    assert {(o["customer_id"], o["currency"]) for o in orders} == {("cust-1001", "USD")}


def test_lookup_order_by_customer_ids_returns_one_list_in_customer_order():
    orders = tools.orders.lookup_order(customer_ids=["cust-1002", "cust-1001"])
    assert [o["order_id"] for o in orders] == ["ORD-2001", "ORD-2002", "ORD-1001", "ORD-1002", "ORD-1003"]
    assert tools.orders.lookup_order(customer_ids=[]) == []


def test_lookup_order_results_are_copies():
    tools.orders.lookup_order(customer_id="cust-1001")[0]["status"] = "lost"
    tools.orders.lookup_order(order_id="ORD-1001")["status"] = "lost"
    assert tools.orders.lookup_order(order_id="ORD-1001")["status"] == "delivered"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"order_id": "ORD-9999"}, "unknown order_id 'ORD-9999'"),
        ({"customer_id": "cust-9999"}, "unknown customer_id 'cust-9999'"),
        ({"order_id": "ORD-1001", "customer_id": "cust-1002"}, "does not belong to customer"),
        ({"customer_ids": ["cust-1001", "cust-9999"]}, "unknown customer_id 'cust-9999'"),
    ],
)
def test_lookup_order_unknown_id_raises_lookup_error(kwargs, match):
    with pytest.raises(LookupError, match=match):
        tools.orders.lookup_order(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"order_id": ""}, {"order_id": 1001}, {"customer_ids": "cust-1001"}, {"customer_ids": [None]},
     {"customer_ids": ["cust-1001"], "order_id": "ORD-1001"}],
)
def test_lookup_order_without_usable_id_raises_value_error(kwargs):
    with pytest.raises(ValueError):
        tools.orders.lookup_order(**kwargs)


def test_order_book_ships_inside_the_package():
    assert tools.orders.ORDERS_PATH == ROOT / "tools" / "data" / "orders.json"
    assert "customers" in tools.orders.load_order_book()


# ----------------------------------------------------------------------------- check_url


def test_check_url_public_host_is_accepted_without_connecting(monkeypatch, no_connect):
    asked = fake_resolver(monkeypatch, {"public.example.test": ["93.184.216.34"]})
    assert check_url("https://public.example.test/v1/items?page=2") is None
    assert asked == ["public.example.test"]


def test_check_url_public_name_resolving_to_private_address_is_refused(monkeypatch, no_connect):
    fake_resolver(monkeypatch, {"public.example.test": ["10.0.0.5"]})
    with pytest.raises(BlockedAddressError) as info:
        check_url("https://public.example.test/")
    error = info.value
    assert (error.host, error.address, error.reason) == ("public.example.test", "10.0.0.5", "a private address")
    assert "public.example.test resolves to 10.0.0.5, a private address" in str(error)
    assert "allowed_hosts" in str(error)


def test_check_url_any_private_address_among_several_is_refused(monkeypatch, no_connect):
    fake_resolver(monkeypatch, {"mixed.example.test": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(BlockedAddressError, match="10.0.0.5"):
        check_url("http://mixed.example.test/")


def test_check_url_listed_host_may_resolve_to_private_address(monkeypatch, no_connect):
    fake_resolver(monkeypatch, {"orders.internal.test": ["10.0.0.5"]})
    assert check_url("http://orders.internal.test:8080/x", allowed_hosts=["ORDERS.internal.test"]) is None


def test_check_url_allowed_hosts_match_names_exactly(monkeypatch, no_connect):
    fake_resolver(monkeypatch, {"evil.orders.internal.test": ["10.0.0.5"], "orders.internal.test.evil": ["10.0.0.6"]})
    for url in ("http://evil.orders.internal.test/", "http://orders.internal.test.evil/"):
        with pytest.raises(BlockedAddressError):
            check_url(url, allowed_hosts=["orders.internal.test"])


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.5", "a private address"),
        ("64:ff9b::a00:5", "a private address"),
        ("2002:a00:5::1", "a private address"),
    ],
)
def test_check_url_non_public_address_is_refused(monkeypatch, no_connect, address, reason):
    fake_resolver(monkeypatch, {"host.example.test": [address]})
    with pytest.raises(BlockedAddressError) as info:
        check_url("http://host.example.test/")
    assert info.value.reason == reason
    assert f"resolves to {ipaddress.ip_address(address)}, {reason}" in str(info.value)


@pytest.mark.parametrize("address", ["::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2606:2800:220:1:248:1893:25c8:1946"])
def test_check_url_public_ipv6_address_is_accepted(monkeypatch, no_connect, address):
    fake_resolver(monkeypatch, {"v6.example.test": [address]})
    check_url("https://v6.example.test/")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://[::1]/", "http://10.0.0.5/"])
def test_check_url_ip_literal_is_refused_without_listing(no_connect, url):
    with pytest.raises(BlockedAddressError, match=r" is a (loopback|private) address"):
        check_url(url)


def test_check_url_ip_literal_listed_is_accepted(no_connect):
    check_url("http://127.0.0.1:8080/", allowed_hosts=["127.0.0.1"])
    check_url("http://[::1]:8080/", allowed_hosts=["[::1]"])


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/", "http://[::ffff:169.254.169.254]/"]
)
def test_check_url_metadata_address_is_refused_even_when_listed(no_connect, url):
    host = url.split("/")[2].split("]")[0].strip("[")
    with pytest.raises(BlockedAddressError) as info:
        check_url(url, allowed_hosts=[host, "169.254.169.254", "fd00:ec2::254"])
    assert info.value.reason == "the instance metadata address"
    assert "refused even when the host is listed in allowed_hosts" in str(info.value)


def test_check_url_name_resolving_to_metadata_address_is_refused_even_when_listed(monkeypatch, no_connect):
    fake_resolver(monkeypatch, {"metadata.example.test": ["169.254.169.254"]})
    with pytest.raises(BlockedAddressError, match="resolves to 169.254.169.254, the instance metadata address"):
        check_url("http://metadata.example.test/", allowed_hosts=["metadata.example.test"])


def test_check_url_lambda_runtime_api_is_refused_even_when_listed(monkeypatch, no_connect):
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    with pytest.raises(BlockedAddressError, match="Lambda Runtime API"):
        check_url("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", allowed_hosts=["127.0.0.1"])
    check_url("http://127.0.0.1:9002/", allowed_hosts=["127.0.0.1"])


@pytest.mark.parametrize(
    "url, match",
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.test/x", "only http and https"),
        ("gopher://127.0.0.1:70/", "only http and https"),
        ("example.test/path", "only http and https"),
        ("http:///path", "no host"),
        ("http://example.test:99999/", "not a valid URL"),
        ("http://user:pw@example.test/", "credentials in the URL"),
        ("http://example.test/a\r\nInjected: 1", "control characters"),
        ("", "non-empty string"),
    ],
)
def test_check_url_bad_url_is_refused(no_connect, url, match):
    with pytest.raises(BlockedAddressError, match=match):
        check_url(url)


def test_check_url_dns_failure_raises_os_error(monkeypatch, no_connect):
    def fail(*args: Any, **kwargs: Any) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(OSError):
        check_url("https://nowhere.example.test/")


def test_check_url_allowed_hosts_as_string_raises_type_error(no_connect):
    with pytest.raises(TypeError):
        check_url("http://127.0.0.1/", allowed_hosts="127.0.0.1")


def test_display_url_drops_credentials_and_query():
    assert net.display_url("https://u:p@api.example.test:8443/v1/x?token=secret#frag") == "https://api.example.test:8443/v1/x"


# ----------------------------------------------------------------------------- fetch_json


def test_fetch_json_loopback_is_refused_by_default(server):
    with pytest.raises(BlockedAddressError, match="loopback"):
        tools.http.fetch_json(f"{server}/doc")


def test_fetch_json_listed_host_returns_document(server, monkeypatch):
    monkeypatch.setattr(tools.http, "ALLOWED_HOSTS", ("127.0.0.1",))
    assert tools.http.fetch_json(f"{server}/doc") == {"items": [1, 2], "accept": "application/json"}
    assert tools.http.fetch_json(f"{server}/plain-json") == {"typed": False}


def test_fetch_json_redirect_to_metadata_address_is_refused(server, monkeypatch):
    monkeypatch.setattr(tools.http, "ALLOWED_HOSTS", ("127.0.0.1", "169.254.169.254"))
    with pytest.raises(BlockedAddressError, match="redirect 1 .* instance metadata address"):
        tools.http.fetch_json(f"{server}/imds")


def test_fetch_json_429_raises_rate_limit(server, monkeypatch):
    monkeypatch.setattr(tools.http, "ALLOWED_HOSTS", ("127.0.0.1",))
    with pytest.raises(tools.RATE_LIMIT, match="Retry-After: 12"):
        tools.http.fetch_json(f"{server}/throttled")


def test_fetch_json_slow_server_raises_timeout(server, monkeypatch):
    monkeypatch.setattr(tools.http, "ALLOWED_HOSTS", ("127.0.0.1",))
    with pytest.raises(tools.TIMEOUT):
        tools.http.fetch_json(f"{server}/slow", timeout_seconds=0.5)


@pytest.mark.parametrize("path, match", [("/text", "did not return JSON"), ("/missing", "404 Not Found: no such document")])
def test_fetch_json_non_json_answer_raises_fetch_error(server, monkeypatch, path, match):
    monkeypatch.setattr(tools.http, "ALLOWED_HOSTS", ("127.0.0.1",))
    with pytest.raises(tools.http.FetchError, match=match):
        tools.http.fetch_json(f"{server}{path}")


def test_fetch_json_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="timeout_seconds"):
        tools.http.fetch_json("https://example.test/", timeout_seconds=0)
    with pytest.raises(ValueError, match="headers"):
        tools.http.fetch_json("https://example.test/", headers=["x"])


def test_a_new_module_in_tools_registers_without_an_edit_and_entry_points_add_more(tmp_path):
    """Tools are discovered: every module of tools/ and every `stepgraph.tools` entry point."""
    import shutil
    import subprocess
    import sys
    import textwrap

    project = tmp_path / "project"
    shutil.copytree(ROOT / "tools", project / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "tools" / "weather.py").write_text(textwrap.dedent('''
        from . import tool

        @tool(description="Forecast for a city")
        def forecast(city: str) -> dict:
            return {"city": city, "sky": "clear"}
    '''), encoding="utf-8")
    # an installed package contributing a tool through the entry-point group
    site = tmp_path / "site"
    (site / "acme_tools").mkdir(parents=True)
    (site / "acme_tools" / "__init__.py").write_text("def shout(text: str) -> str:\n    return text.upper()\n", encoding="utf-8")
    dist = site / "acme_tools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-tools\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[stepgraph.tools]\nshout = acme_tools:shout\n", encoding="utf-8")

    script = ("import json, tools; print(json.dumps({n: tools.REGISTRY[n].function(**a) for n, a in "
              "[('forecast', {'city': 'Lyon'}), ('shout', {'text': 'hi'})] if n in tools.REGISTRY}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{project}{os.pathsep}{site}", "PATH": os.environ.get("PATH", "")}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"forecast": {"city": "Lyon", "sky": "clear"}, "shout": "HI"}
