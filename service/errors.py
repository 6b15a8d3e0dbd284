"""Domain errors and the one place that turns them into problem-details responses (RFC 9457).

ServiceError (500)
├── BadRequest (400)
├── Unauthorized (401)
├── NotFound (404)
├── Conflict (409)
├── Unprocessable (422)
└── Unavailable (503)
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class ServiceError(Exception):
    """A failure the client should hear about, with an HTTP status and a readable detail."""

    status_code = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ServiceError):
    status_code = 400
    title = "Bad Request"


class Unauthorized(ServiceError):
    status_code = 401
    title = "Unauthorized"


class NotFound(ServiceError):
    status_code = 404
    title = "Not Found"


class Conflict(ServiceError):
    status_code = 409
    title = "Conflict"


class Unprocessable(ServiceError):
    status_code = 422
    title = "Unprocessable Content"


class Unavailable(ServiceError):
    status_code = 503
    title = "Service Unavailable"


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem-details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return problem(exc.status_code, exc.title, exc.detail, headers=headers, **exc.extra)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return problem(422, "Unprocessable Content", f"invalid request: {summary}", errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    return problem(exc.status_code, _reason(exc.status_code), detail, headers=exc.headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through problem details."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
