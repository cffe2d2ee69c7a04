"""Tests for lambdas/tool_call/handler.py: running registered tools and mapping failures to error codes."""

from __future__ import annotations

import inspect
import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest
from lambda_support import FakeLambdaContext
from lambda_support import load_handler as load_lambda_handler

ROOT = Path(__file__).resolve().parents[2]
HANDLER_PATH = ROOT / "lambdas" / "tool_call" / "handler.py"
if str(ROOT) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not put the repo root on sys.path
    sys.path.insert(0, str(ROOT))

import tools  # noqa: E402


# ----------------------------------------------------------------------------- helpers


def load_handler() -> ModuleType:
    """Import the handler by path (``lambdas`` is not a package)."""
    return load_lambda_handler("tool_call")


def make_event(tool: str = "lookup_order", arguments: Any = None, **overrides: Any) -> dict[str, Any]:
    event = {
        "tool": tool,
        "arguments": {"order_id": "ORD-1002"} if arguments is None else arguments,
        "step_id": "lookup",
        "workflow_name": "customer-support",
        "execution_name": "exec-1",
    }
    event.update(overrides)
    return event


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return load_handler()


@pytest.fixture()
def scratch_tools() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Register test tools; every call they receive is recorded; they are removed afterwards."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(name: str, fn):
        def wrapper(**kwargs: Any) -> Any:
            calls.append((name, kwargs))
            return fn(**kwargs)

        wrapper.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
        tools.tool(name)(wrapper)

    def greet(name: str, punctuation: str = "!") -> str:
        return f"hello {name}{punctuation}"

    def fails(**_: Any) -> None:
        raise LookupError("no such thing")

    def throttled() -> None:
        raise tools.RATE_LIMIT("orders API answered 429; Retry-After: 30")

    def slow() -> None:
        raise tools.TIMEOUT("gave up waiting for the warehouse after 5 s")

    class TIMEOUT(Exception):  # a tool's own class named like the code
        pass

    def own_timeout() -> None:
        raise TIMEOUT("my own timeout")

    def returns_set() -> Any:
        return {1, 2}

    def returns_nan() -> float:
        return math.nan

    def returns_huge() -> str:
        return "x" * 300_000

    for name, fn in [("greet", greet), ("fails", fails), ("throttled", throttled), ("slow", slow),
                     ("own_timeout", own_timeout), ("returns_set", returns_set), ("returns_nan", returns_nan),
                     ("returns_huge", returns_huge)]:
        record(name, fn)
    yield calls
    for name in ("greet", "fails", "throttled", "slow", "own_timeout", "returns_set", "returns_nan", "returns_huge"):
        tools.REGISTRY.pop(name, None)


# ----------------------------------------------------------------------------- success


def test_call_tool_lookup_order_returns_the_order(handler):
    result = handler.call_tool(make_event())
    assert result["order_id"] == "ORD-1002"
    assert result["status"] == "shipped"


def test_call_tool_passes_arguments_as_keywords(handler, scratch_tools):
    assert handler.call_tool(make_event("greet", {"name": "Ana", "punctuation": "?"})) == "hello Ana?"
    assert scratch_tools == [("greet", {"name": "Ana", "punctuation": "?"})]


def test_call_tool_missing_arguments_default_to_empty_object(handler, scratch_tools):
    event = make_event("throttled")
    del event["arguments"]
    with pytest.raises(tools.RATE_LIMIT):
        handler.call_tool(event)
    assert scratch_tools == [("throttled", {})]


def test_lambda_handler_returns_tool_value(handler):
    result = handler.lambda_handler(make_event(arguments={"customer_id": "cust-1002"}), FakeLambdaContext())
    assert [o["order_id"] for o in result] == ["ORD-2001", "ORD-2002"]


# ----------------------------------------------------------------------------- validation


def test_call_tool_unknown_tool_raises_validation_error_listing_tools(handler):
    with pytest.raises(handler.VALIDATION_ERROR) as info:
        handler.call_tool(make_event("no_such_tool"))
    assert "unknown tool 'no_such_tool'" in str(info.value)
    assert "lookup_order" in str(info.value) and "fetch_json" in str(info.value)
    assert info.value.step_id == "lookup"


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"name": "Ana", "colour": "red"}, "unexpected keyword argument 'colour'"),
        ({}, "missing a required argument: 'name'"),
    ],
)
def test_call_tool_arguments_not_matching_signature_raise_validation_error(handler, scratch_tools, arguments, match):
    with pytest.raises(handler.VALIDATION_ERROR, match=match) as info:
        handler.call_tool(make_event("greet", arguments))
    assert "do not match tool greet(name, punctuation='!')" in str(info.value)
    assert scratch_tools == []  # the tool never ran


@pytest.mark.parametrize(
    "event, match",
    [
        (["not", "an", "object"], "event must be a JSON object"),
        ({"arguments": {}}, "'tool' must be"),
        ({"tool": "lookup_order", "arguments": ["ORD-1"]}, "'arguments' must be a JSON object"),
        ({"tool": 7, "arguments": "x"}, r"2 problems"),
    ],
)
def test_call_tool_malformed_event_raises_validation_error(handler, event, match):
    with pytest.raises(handler.VALIDATION_ERROR, match=match):
        handler.call_tool(event)


# ----------------------------------------------------------------------------- tool failures


def test_call_tool_tool_exception_raises_tool_error_with_type_and_message(handler, scratch_tools):
    with pytest.raises(handler.TOOL_ERROR) as info:
        handler.call_tool(make_event("fails", {"anything": 1}))
    assert str(info.value) == "tool fails failed: LookupError: no such thing"
    assert isinstance(info.value.__cause__, LookupError)


def test_call_tool_lookup_order_unknown_id_raises_tool_error(handler):
    with pytest.raises(handler.TOOL_ERROR, match="tool lookup_order failed: LookupError: .*unknown order_id 'ORD-0'"):
        handler.call_tool(make_event(arguments={"order_id": "ORD-0"}))


@pytest.mark.parametrize("tool, code", [("throttled", "RATE_LIMIT"), ("slow", "TIMEOUT"), ("own_timeout", "TIMEOUT")])
def test_call_tool_signal_from_tool_passes_through(handler, scratch_tools, tool, code):
    with pytest.raises(Exception) as info:
        handler.call_tool(make_event(tool, {}))
    assert type(info.value).__name__ == code


def test_handler_rate_limit_and_timeout_are_the_tools_classes(handler):
    assert handler.RATE_LIMIT is tools.RATE_LIMIT
    assert handler.TIMEOUT is tools.TIMEOUT


@pytest.mark.parametrize(
    "tool, match",
    [("returns_set", "not JSON-serialisable"), ("returns_nan", "not JSON-serialisable"), ("returns_huge", "at most 262144 bytes")],
)
def test_call_tool_unusable_return_value_raises_tool_error(handler, scratch_tools, tool, match):
    with pytest.raises(handler.TOOL_ERROR, match=match):
        handler.call_tool(make_event(tool, {}))


@pytest.mark.parametrize(
    "event, code",
    [
        (make_event("no_such_tool"), "VALIDATION_ERROR"),
        (make_event(arguments={"order": "ORD-1"}), "VALIDATION_ERROR"),
        (make_event(arguments={"order_id": "ORD-0"}), "TOOL_ERROR"),
        (make_event("throttled", {}), "RATE_LIMIT"),
        (make_event("slow", {}), "TIMEOUT"),
    ],
)
def test_lambda_handler_error_type_is_the_code(handler, scratch_tools, event, code):
    with pytest.raises(Exception) as info:
        handler.lambda_handler(event, FakeLambdaContext())
    assert type(info.value).__name__ == code


def test_lambda_handler_never_logs_argument_values(handler, caplog):
    caplog.set_level(logging.INFO, logger=handler.logger.name)  # an earlier local run may have set WARNING
    handler.lambda_handler(make_event(arguments={"customer_id": "cust-1003"}), FakeLambdaContext())
    logged = "\n".join(handler.logger.registered_formatter.format(record) for record in caplog.records)
    assert '"argument_names":["customer_id"]' in logged.replace(" ", "")
    assert "cust-1003" not in logged


# ----------------------------------------------------------------------------- packaging


def test_handler_imports_repository_tools_when_started_outside_the_repository(tmp_path):
    script = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(HANDLER_PATH)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(json.dumps({'tools': m.tools.__file__, 'result': m.call_tool({'tool': 'lookup_order', "
        "'arguments': {'order_id': 'ORD-3001'}})['order_id']}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "POWERTOOLS_LOG_LEVEL": "ERROR"},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"tools": str(ROOT / "tools" / "__init__.py"), "result": "ORD-3001"}
