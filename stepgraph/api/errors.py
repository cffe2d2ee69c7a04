"""The API's one error shape, ``{"code", "message", "details"}`` (SPEC §9), and the exceptions that produce it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "error_response", "install_error_handlers", "validation_details"]

#: Codes of errors that are not workflow errors (SPEC §7 codes are used where they fit).
_HTTP_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
               422: "VALIDATION_ERROR", 429: "RATE_LIMIT", 500: "INTERNAL_ERROR", 501: "NOT_SUPPORTED",
               502: "UPSTREAM_ERROR"}


class ApiError(Exception):
    """An error the API answers with ``{"code", "message", "details"}``.

    Parameters
    ----------
    status:
        The HTTP status (400, 401, 403, 404, 409, 413 …).
    code:
        A stable code: ``VALIDATION_ERROR`` (400), ``UNAUTHENTICATED`` (401), ``FORBIDDEN`` (403),
        ``NOT_FOUND`` (404), ``CONFLICT`` (409), ``PAYLOAD_TOO_LARGE`` (413).
    message:
        One sentence saying what is wrong.
    details:
        Structured detail (for ``VALIDATION_ERROR``, the list of problems). Default ``None``.
    headers:
        Extra response headers (``WWW-Authenticate`` on 401).
    """

    def __init__(self, status: int, code: str, message: str, details: Any = None, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON response in the API's error shape."""
    return JSONResponse(status_code=status, content={"code": code, "message": message, "details": details}, headers=headers)


def validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as ``[{"path", "message"}]`` (the path joined with dots, ``body.`` dropped)."""
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] == "body":
            location = location[1:]
        problems.append({"path": ".".join(location), "message": str(error.get("msg", "invalid value"))})
    return problems


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer in the one shape: ours, FastAPI's validation errors, HTTP errors, crashes."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_details(exc)
        summary = "; ".join(f"{p['path'] or 'body'}: {p['message']}" for p in problems[:5])
        return error_response(400, "VALIDATION_ERROR", f"invalid request ({len(problems)} problem(s)): {summary}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, code, message, None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:  # the details stay in the server log
        import logging

        logging.getLogger("stepgraph.api").exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "the server failed to answer; see its log", None)
