"""Every failure becomes one JSON shape, ``{"error": {"type", "message"}}``, with its status code.

One function (``error_response``) shapes them all, so a client never sees a stack trace or an
HTML error page. Types follow the OpenAI API's names where one exists, so its clients show the
message as it is.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from khabar.bot.serve.protocol import ErrorDetail, ErrorOut
from khabar.retrieval.errors import KhabarError, QuestionError
from khabar.retrieval.index.backend import KhabarIndexError

log = logging.getLogger(__name__)

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          405: "method_not_allowed", 409: "conflict_error", 413: "request_too_large",
          429: "rate_limit_error", 503: "service_unavailable"}
NOT_READY = "no usable index is loaded yet (the server's log says why); try again later"


class ApiError(Exception):
    """An error with its HTTP status, raised by the routes and their dependencies."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_json(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorOut(error=ErrorDetail(type=_TYPES.get(status, "server_error"), message=message))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


async def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The one exception handler: the status, type and message a client gets for ``exc``."""
    if isinstance(exc, ApiError):
        return error_json(exc.status, exc.message, exc.headers)
    if isinstance(exc, QuestionError):
        return error_json(400, str(exc))
    if isinstance(exc, RequestValidationError):
        return error_json(400, _validation_message(exc))
    if isinstance(exc, HTTPException):
        return error_json(exc.status_code, str(exc.detail), exc.headers)
    if isinstance(exc, KhabarIndexError):
        log.warning("index_unavailable", extra={"path": request.url.path, "reason": str(exc)})
        return error_json(503, NOT_READY)
    if isinstance(exc, KhabarError):
        log.error("unavailable", extra={"path": request.url.path, "reason": str(exc)})
        return error_json(503, "the server cannot answer now (its log says why)")
    # Starlette re-raises it after this response, and the server logs its traceback.
    return error_json(500, "internal error; the server's log has the details")
