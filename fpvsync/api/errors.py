"""Every answer other than 2xx is ``{"error": message, ...}`` (:class:`~fpvsync.api.schemas.ErrorBody`), whoever
refused the request (a route, FastAPI's routing, the validation of an id), so that clients handle one shape.

Messages name servers by :func:`public_url` and failures by :func:`http_reason`: an answer or a log line never
carries a user or password from a configured URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fpvsync.api.schemas import EXAMPLE_GUID, ValidationErrorBody, ValidationProblem
from fpvsync.summary import SyncSummary


class ApiError(Exception):
    """An answer other than 2xx, as ``{"error": message, ...}``."""

    def __init__(self, status: int, message: str, *, run_id: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.run_id = run_id
        self.headers = headers


def error_response(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    run_id: str | None = None,
    summary: SyncSummary | None = None,
) -> JSONResponse:
    """An :class:`ErrorBody`; optional keys are left out rather than null."""
    body: dict[str, Any] = {"error": message}
    if run_id is not None:
        body["runId"] = run_id
    if summary is not None:
        body["summary"] = summary.to_dict()
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer :class:`ApiError`, FastAPI's own HTTP errors and malformed ids with an error body."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, headers=exc.headers, run_id=exc.run_id)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 that says which id is malformed, without echoing anything but path values."""
    assert isinstance(exc, RequestValidationError)
    problems: list[ValidationProblem] = []
    messages: list[str] = []
    for error in exc.errors():
        loc = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        name = str(loc[-1]) if loc else "request"
        if error.get("type") == "string_pattern_mismatch":
            shown = str(error.get("input", ""))
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            what = "run id (32 hex digits)" if name == "runId" else f"GUID like {EXAMPLE_GUID}"
            messages.append(f"{name} {shown!r} is not a {what}")
        else:
            messages.append(f"{name}: {error.get('msg', 'invalid')}")
        problems.append(ValidationProblem(loc=loc, msg=str(error.get("msg", "")), type=str(error.get("type", ""))))
    body = ValidationErrorBody(error="; ".join(messages) or "invalid request", detail=problems)
    return JSONResponse(body.model_dump(mode="json"), status_code=422)


def public_url(url: str) -> str:
    """``url`` without user and password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def http_reason(exc: httpx.HTTPError) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
