"""Errors at the HTTP edge: every 4xx/5xx leaves as one JSON envelope,
`{"error": {"message", "type", "status"}}`, the shape OpenAI clients already know how to show.

This is the only place that maps rag.errors to status codes. Messages never carry the API key,
request bodies or tracebacks.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag.errors import (
    ConflictError,
    IndexNotReadyError,
    InputError,
    LLMUnavailableError,
    LoadError,
    QAError,
    StorageError,
    UnknownFilterError,
    UnknownSourceError,
)

logger = logging.getLogger(__name__)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limit_exceeded",
    422: "invalid_request_error",
    500: "server_error",
    503: "service_unavailable",
}
GENERIC_500 = "internal server error; the request was not answered"
_MAX_ERRORS_SHOWN = 3
_FIELD = re.compile(r"^\w+$")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "error"), "status": status}}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def validation_message(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """Status and a one-line message. The input values are left out: they may be large, and the
    envelope should not echo whatever a client sent."""
    for error in errors:
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", "?"))[-1]
            reason = (error.get("ctx") or {}).get("error", "not valid JSON")
            return 400, f"malformed JSON in the request body at character {position}: {reason}"
    by_place: dict[str, str] = {}
    for error in errors:
        # A union reports once per branch, tagged "str" or "list[TextPart]": one line per place suffices.
        loc = [str(p) for p in error.get("loc", ()) if p != "body" and _FIELD.match(str(p))]
        where = ".".join(loc) or "body"
        if error.get("type") == "missing" and where == "body":
            by_place.setdefault(where, "a JSON request body is required (Content-Type: application/json)")
        elif error.get("type") == "model_attributes_type" and where == "body":
            by_place.setdefault(where, "the request body must be a JSON object (Content-Type: application/json)")
        else:
            by_place.setdefault(where, f"{where}: {error.get('msg', 'invalid').removeprefix('Value error, ')}")
    parts = list(by_place.values())
    more = len(parts) - _MAX_ERRORS_SHOWN
    return 422, "; ".join(parts[:_MAX_ERRORS_SHOWN]) + (f" (and {more} more)" if more > 0 else "")


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 400 and message == "There was an error parsing the body":
        # FastAPI's words for a body json could not parse at all (nesting or numbers too large).
        message = "malformed JSON in the request body: it could not be parsed"
    elif exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    status, message = validation_message(list(exc.errors()))
    return error_response(status, message)


# Status by error class, first match wins (a subclass before its base).
STATUS_BY_ERROR: tuple[tuple[type[QAError], int], ...] = (
    (UnknownFilterError, 404),  # well-formed, but names nothing there: not found
    (UnknownSourceError, 404),
    (ConflictError, 409),  # an ingest is running, or the name is taken
    (LoadError, 422),  # an uploaded file that arrived whole but cannot be read
    (InputError, 400),
    (LLMUnavailableError, 503),
    (StorageError, 503),
)


async def _qa_error(request: Request, exc: QAError) -> JSONResponse:
    if isinstance(exc, IndexNotReadyError):
        return error_response(503, f"the index is not ready: {exc}")
    for kind, status in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return error_response(status, str(exc))
    # ConfigError, CitationError, ...: the server's fault, not the client's; details go to the log.
    logger.error("request failed: %s: %s", type(exc).__name__, exc)
    return error_response(500, GENERIC_500)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this handler, so the traceback reaches the server log, not the client.
    return error_response(500, GENERIC_500)


def install_error_handlers(app: FastAPI) -> None:
    # The decorator form: it types each handler by its own exception class.
    app.exception_handler(HTTPException)(_http_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(QAError)(_qa_error)
    app.exception_handler(Exception)(_unexpected)
