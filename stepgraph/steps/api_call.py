"""``api_call``: an HTTP request through ``lambdas/api_call`` and its address guard — SPEC §3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode
from stepgraph_runtime import env

from ..handlers import Bundle, HandlerSpec
from ..model import Step
from ..substitutions import API_CALL_FUNCTION
from .base import MAX_LAMBDA_SECONDS, Params, StepKind, is_int, is_map, is_str_list, param

__all__ = ["ApiCall", "UPSTREAM_ERROR", "HTTP_METHODS"]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: Error the api_call Lambda raises for a 5xx answer or a failed connection: retried, then
#: recorded as ``TOOL_ERROR`` (it is not one of the six codes).
UPSTREAM_ERROR = "UPSTREAM_ERROR"


@dataclass(frozen=True)
class ApiParams(Params):
    url: Any = param(required=True, role="template",
                     check=lambda v: isinstance(v, str) and v.startswith(("https://", "http://", "{{")),
                     what="an http(s) URL template")
    method: Any = param("GET", check=lambda v: isinstance(v, str) and v.upper() in HTTP_METHODS, what=f"one of {list(HTTP_METHODS)}")
    headers: Any = param(None, role="template", check=is_map, secrets=True,
                         what="an object of header templates (which may read {{secrets.<name>}})")
    body: Any = param(None, role="template", what="a template")
    timeout_seconds: int = param(30, check=lambda v: is_int(v) and 1 <= v <= MAX_LAMBDA_SECONDS,
                                 what=f"a whole number of seconds from 1 to {MAX_LAMBDA_SECONDS}")
    allowed_hosts: Any = param((), check=is_str_list, what="a list of host names that may resolve to private addresses")


def _secret_refs(text: str) -> list[tuple[int, int, str | None, str]]:
    """``(start, end, secret name or None, inside)`` for every ``{{ }}`` block of a header template."""
    from ..expressions import ExpressionError, condition_references

    found = []
    for match in re.finditer(r"\{\{(.*?)\}\}", text, re.DOTALL):
        try:
            refs = condition_references(match.group(1))
        except ExpressionError:
            refs = []
        secret = next((str(r.path[0]) for r in refs if r.root == "secrets" and len(r.path) == 1), None)
        found.append((match.start(), match.end(), secret, match.group(1)))
    return found


class ApiCall(StepKind):
    """A Task calling ``lambdas/api_call``: 429 → ``RATE_LIMIT``, 5xx → retried, then ``TOOL_ERROR``.

    Secrets: a header may read ``{{secrets.<name>}}``, a Secrets Manager secret. Its value never
    enters the state machine: such a header compiles to ``{"parts": [text, {"secret": name},
    ...]}``, the step's ``Arguments`` list the header names (``secret_headers``) and secret names
    (``secrets``) as literals, and ``lambdas/api_call`` joins the parts with the secret values read
    at call time — only for those headers and those names, whatever the execution input holds.
    A step that sends a secret must name its host literally (an input cannot redirect it).
    """

    step_type = "api_call"
    position = 8
    params_type = ApiParams
    mermaid_shape = (">", "]")
    colours = ("#ecfccb", "#65a30d")
    graphviz_shape = {"shape": "box", "style": "filled,diagonals"}
    handler = HandlerSpec(
        "api_call", "ApiCall", "stepgraph-api-call", "Sends the HTTP request of an api_call step",
        substitution_key=API_CALL_FUNCTION, environment=(env.PAYLOADS_BUCKET,), offloads=True,
    )

    def secrets_used(self, step: Step) -> tuple[str, ...]:
        headers = step.parameters.get("headers")
        if not hasattr(headers, "items"):
            return ()
        return tuple(sorted({name for value in headers.values() if isinstance(value, str)
                             for _, _, name, _ in _secret_refs(value) if name}))

    def check(self, step: Step, c) -> None:
        if not self.secrets_used(step):
            return
        url = step.parameters.get("url")
        host = url.split("://", 1)[1].split("/", 1)[0] if isinstance(url, str) and "://" in url else ""
        if not host or "{{" in url.split("://", 1)[0] + "://" + host:
            c.add("a step that sends a secret must name its URL's scheme and host literally "
                  "(e.g. 'https://api.example.com/{{input.path}}'), so no input can send the secret elsewhere", "url")

    def _headers(self, headers: Any, step, scope, ctx) -> tuple[dict[str, Any], list[str]]:
        """Header arguments; a header holding a secret becomes ``{"parts": [...]}``."""
        from ..compiler import document as doc

        rendered: dict[str, Any] = {}
        secret_headers: list[str] = []
        for name, value in (headers or {}).items():
            refs = _secret_refs(value) if isinstance(value, str) else []
            if not any(secret for _, _, secret, _ in refs):
                rendered[name] = ctx.template(value, step, scope)
                continue
            parts: list[Any] = []
            pos = 0
            for start, end, secret, inside in refs:
                if start > pos:
                    parts.append(ctx.template(value[pos:start], step, scope))
                if secret:
                    parts.append({"secret": secret})
                else:  # any other value as text, never an object the Lambda could take for a secret part
                    expr = ctx.expression(inside, step, scope)
                    parts.append(doc.jsonata_string(f"($s := {expr}; $type($s) = 'string' ? $s : $string($s))"))
                pos = end
            if pos < len(value):
                parts.append(ctx.template(value[pos:], step, scope))
            rendered[name] = {"parts": parts}
            secret_headers.append(name)
        return rendered, secret_headers

    def compile(self, step, scope, ctx):
        from ..compiler.scope import TASK_TIMEOUT_MARGIN_SECONDS

        p = self.params(step)
        timeout = int(p.timeout_seconds)
        headers, secret_headers = self._headers(p.headers, step, scope, ctx)
        arguments: dict[str, Any] = {
            "url": ctx.template(p.url, step, scope),
            "method": str(p.method).upper(),
            "headers": headers,
            "timeout_seconds": timeout,
            "allowed_hosts": list(p.allowed_hosts),
            **ctx.execution_fields(step),
        }
        if secret_headers:
            arguments["secret_headers"] = secret_headers
            arguments["secrets"] = list(self.secrets_used(step))
        if "body" in step.parameters:
            arguments["body"] = ctx.template(p.body, step, scope)
        state = ctx.lambda_task(step, scope, API_CALL_FUNCTION, arguments, default_code=ErrorCode.TOOL_ERROR.value,
                                timeout=step.timeout_seconds or timeout + TASK_TIMEOUT_MARGIN_SECONDS,
                                retryable=(ErrorCode.RATE_LIMIT.value, ErrorCode.TIMEOUT.value, UPSTREAM_ERROR),
                                default_retry=(ErrorCode.RATE_LIMIT.value, UPSTREAM_ERROR))
        state["Comment"] = f"{arguments['method']} request"
        return {step.step_id: state}

    def output_fields(self, step: Step):
        return {"status_code": None, "headers": None, "body": None}

    def detail(self, step: Step) -> str:
        return f"{str(step.param('method', 'GET')).upper()} {step.param('url', '?')}"
