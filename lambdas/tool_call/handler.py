"""Lambda that runs a registered Python tool (the repository's ``tools/`` package) for a tool_call step."""

from __future__ import annotations

import inspect
import json
import os
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from stepgraph_runtime import env, offload
from stepgraph_runtime.errors import TOOL_ERROR, VALIDATION_ERROR, StepError
from stepgraph_runtime.packages import import_package

# ``tools`` is the project's package of registered tools. Deployed, the asset holds it beside this
# file (the asset root is Lambda's task root), so ``import tools`` finds it; the local engine has
# imported it from the project folder before loading this handler. Started any other way from a
# checkout, the repository's ``tools/`` (two folders up) is imported by path — sys.path is untouched.
try:
    import tools
except ModuleNotFoundError as _exc:  # pragma: no cover - depends on how the handler is started
    if _exc.name != "tools":
        raise
    tools = import_package("tools", Path(__file__).resolve().parents[2] / "tools")

__all__ = (
    "RATE_LIMIT",
    "TIMEOUT",
    "TOOL_ERROR",
    "ToolCallError",
    "VALIDATION_ERROR",
    "call_tool",
    "lambda_handler",
)

logger = Logger(service=env.service_name())

#: Largest JSON result a tool may return: the most Step Functions passes between states (256 KiB).
MAX_RESULT_BYTES = 256 * 1024
#: Error class names a tool may raise to fail the step with that code instead of ``TOOL_ERROR``.
PASS_THROUGH_CODES = frozenset({"RATE_LIMIT", "TIMEOUT"})


# --------------------------------------------------------------------------- errors

#: The errors this Lambda raises itself share one base class (:mod:`stepgraph_runtime.errors`).
ToolCallError = StepError

#: A tool signals throttling or a timeout by raising these (``from tools import RATE_LIMIT``);
#: they are the ``tools`` package's own classes, re-exported so both names are the same class.
#: Any other exception class *named* ``RATE_LIMIT`` or ``TIMEOUT`` passes through as well.
RATE_LIMIT = tools.RATE_LIMIT
TIMEOUT = tools.TIMEOUT

#: Readable aliases (STYLE.md names errors with an ``Error`` suffix).
ToolValidationError = VALIDATION_ERROR
ToolError = TOOL_ERROR


# --------------------------------------------------------------------------- call


def _validated(event: Any) -> tuple[str, dict[str, Any], str | None]:
    """Return ``(tool, arguments, step_id)``, collecting every problem before raising once."""
    if not isinstance(event, dict):
        raise VALIDATION_ERROR(f"event must be a JSON object, got {type(event).__name__}")
    step_id = event.get("step_id") if isinstance(event.get("step_id"), str) else None
    issues: list[str] = []
    name = event.get("tool")
    if not isinstance(name, str) or not name:
        issues.append("'tool' must be the non-empty name of a registered tool")
    arguments = event.get("arguments")
    if arguments is None:
        arguments = {}
    elif not isinstance(arguments, dict):
        issues.append(f"'arguments' must be a JSON object, got {type(arguments).__name__}")
    if issues:
        raise VALIDATION_ERROR(
            f"invalid tool_call event ({len(issues)} problem{'s' if len(issues) > 1 else ''}): " + "; ".join(issues),
            tool=name if isinstance(name, str) else None,
            step_id=step_id,
        )
    return name, arguments, step_id


def _plain(signature: inspect.Signature) -> str:
    """The signature without annotations, e.g. ``(order_id=None, customer_id=None)``."""
    empty = inspect.Parameter.empty
    return str(signature.replace(parameters=[p.replace(annotation=empty) for p in signature.parameters.values()],
                                 return_annotation=empty))


def call_tool(event: dict[str, Any]) -> Any:
    """Run the registered tool the event names with the event's arguments.

    Parameters
    ----------
    event : dict
        ``{"tool": str, "arguments": {...}}`` (``arguments`` defaults to ``{}``), plus
        ``"step_id"``, ``"workflow_name"``, ``"execution_name"`` (optional, logged).

    Returns
    -------
    Any
        The tool's return value (JSON-serialisable, at most ``MAX_RESULT_BYTES`` encoded).

    Raises
    ------
    VALIDATION_ERROR
        When the event is malformed, the tool is unknown (the message lists the registered ones),
        or ``arguments`` does not bind to the tool's signature (the tool is not called).
    RATE_LIMIT, TIMEOUT
        When the tool raises an exception class of that name (``tools.RATE_LIMIT``,
        ``tools.TIMEOUT``); it is re-raised unchanged.
    TOOL_ERROR
        When the tool raises anything else (``"tool <name> failed: <ExcType>: <message>"``), or
        returns a value that is not JSON or is too large to pass between states.

    Examples
    --------
    >>> call_tool({"tool": "lookup_order", "arguments": {"order_id": "ORD-1002"}})["status"]
    'shipped'
    """
    name, arguments, step_id = _validated(event)
    keys = {"tool": name, "step_id": step_id, "workflow_name": event.get("workflow_name"),
            "execution_name": event.get("execution_name")}
    try:
        registered = tools.get_tool(name)
    except tools.UnknownToolError as exc:
        raise VALIDATION_ERROR(str(exc), tool=name, step_id=step_id) from None
    signature = registered.signature
    try:
        signature.bind(**arguments)
    except TypeError as exc:
        raise VALIDATION_ERROR(
            f"arguments {sorted(arguments)} do not match tool {name}{_plain(signature)}: {exc}",
            tool=name, step_id=step_id,
        ) from None

    # Argument names only: values may hold personal data.
    logger.info("calling tool", extra={**keys, "argument_names": sorted(arguments)})
    started = time.monotonic()
    try:
        result = registered.function(**arguments)
    except Exception as exc:
        duration_ms = int((time.monotonic() - started) * 1000)
        code = type(exc).__name__
        if code in PASS_THROUGH_CODES:
            logger.warning("tool signalled an error", extra={**keys, "error_code": code, "duration_ms": duration_ms})
            raise
        logger.warning("tool failed", extra={**keys, "error_code": "TOOL_ERROR", "exception": code,
                                             "duration_ms": duration_ms})
        raise TOOL_ERROR(f"tool {name} failed: {code}: {exc}", tool=name, step_id=step_id) from exc

    try:
        encoded = json.dumps(result, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TOOL_ERROR(
            f"tool {name} returned a value that is not JSON-serialisable ({type(result).__name__}): {exc}",
            tool=name, step_id=step_id,
        ) from exc
    size = len(encoded.encode("utf-8"))
    if size > MAX_RESULT_BYTES and not os.environ.get(env.PAYLOADS_BUCKET):
        raise TOOL_ERROR(
            f"tool {name} returned {size} bytes of JSON; Step Functions passes at most {MAX_RESULT_BYTES} "
            "bytes between states (return less, or write the data to S3 and return its URI)",
            tool=name, step_id=step_id,
        )
    logger.info("tool answered", extra={**keys, "result_bytes": size,
                                        "duration_ms": int((time.monotonic() - started) * 1000)})
    return result


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """Lambda entry point: see ``call_tool``; errors surface under their code as ``errorType``.

    Offloaded values in the arguments are fetched first — only this execution's own, verified
    (:func:`stepgraph_runtime.offload.resolve`) — and a result too large for Step Functions goes
    to S3 by reference.
    """
    workflow = str(event.get("workflow_name") or "unknown") if isinstance(event, dict) else "unknown"
    execution = str(event.get("execution_name") or "unknown") if isinstance(event, dict) else "unknown"
    if isinstance(event, dict) and event.get("arguments"):
        event = {**event, "arguments": offload.resolve(event["arguments"], workflow=workflow, execution=execution,
                                                       step=event.get("step_id"))}
    result = call_tool(event)
    return offload.offload(result, workflow=workflow, execution=execution, step=str(event.get("step_id") or "tool"))
