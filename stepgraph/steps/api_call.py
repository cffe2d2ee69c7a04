"""``api_call``: an HTTP request through ``lambdas/api_call`` and its address guard — SPEC §3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode
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
    headers: Any = param(None, role="template", check=is_map, what="an object of header templates")
    body: Any = param(None, role="template", what="a template")
    timeout_seconds: int = param(30, check=lambda v: is_int(v) and 1 <= v <= MAX_LAMBDA_SECONDS,
                                 what=f"a whole number of seconds from 1 to {MAX_LAMBDA_SECONDS}")
    allowed_hosts: Any = param((), check=is_str_list, what="a list of host names that may resolve to private addresses")


class ApiCall(StepKind):
    """A Task calling ``lambdas/api_call``: 429 → ``RATE_LIMIT``, 5xx → retried, then ``TOOL_ERROR``."""

    step_type = "api_call"
    position = 8
    params_type = ApiParams
    mermaid_shape = (">", "]")
    colours = ("#ecfccb", "#65a30d")
    graphviz_shape = {"shape": "box", "style": "filled,diagonals"}

    def compile(self, step, scope, ctx):
        from ..compiler.scope import TASK_TIMEOUT_MARGIN_SECONDS

        p = self.params(step)
        timeout = int(p.timeout_seconds)
        arguments: dict[str, Any] = {
            "url": ctx.template(p.url, step, scope),
            "method": str(p.method).upper(),
            "headers": ctx.template(p.headers if p.headers is not None else {}, step, scope),
            "timeout_seconds": timeout,
            "allowed_hosts": list(p.allowed_hosts),
            **ctx.execution_fields(step),
        }
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
