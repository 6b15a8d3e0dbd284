"""Domain errors and the one place that turns them into problem-details responses (RFC 9457).

ServiceError (500)
├── BadRequest (400)
├── Unauthorized (401)
├── NotFound (404)
├── Conflict (409)
├── Unprocessable (422)
└── Unavailable (503)

Every other failure also answers problem details: a database that cannot be reached is a 503
with Retry-After, and anything unexpected a 500 that names nothing of the internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Seconds a client should wait before retrying while the database is unreachable.
DATABASE_RETRY_AFTER_S = 2


class Problem(BaseModel):
    """An error, as RFC 9457 problem details; some errors add members (`errors`, `reason`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="Always `about:blank`.")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for a human.")


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


class ProblemResponse(JSONResponse):
    """A problem-details body; text that cannot be encoded (a lone surrogate echoed from a
    request's JSON keys) is replaced rather than failing the response."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", errors="replace")


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """A problem-details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def reason_phrase(status: int) -> str:
    """The standard phrase of an HTTP status ("Error" for an unknown one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _service_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return problem(exc.status_code, exc.title, exc.detail, headers=headers, **exc.extra)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The input is never echoed: it may be large, or a secret sent in the wrong field.
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return problem(422, "Unprocessable Content", f"invalid request: {summary}", errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route that matched the path only.
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem(exc.status_code, reason_phrase(exc.status_code), detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match is not Match.NONE and route_methods:
            methods |= set(route_methods)
    return sorted(methods)


def is_database_unavailable(exc: BaseException) -> bool:
    """True for a failure to reach or keep the database (as opposed to a bad query)."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    # The pool had no free connection in time.
    return isinstance(exc, sa_exc.TimeoutError)


async def _database_error(request: Request, exc: Exception) -> Response:
    if not is_database_unavailable(exc):
        raise exc  # a bug: the last-resort handler answers 500 and the traceback is logged
    # One line, no traceback and no SQL: the parameters may hold presigned URLs.
    log.warning(
        "database unavailable during %s %s: %s",
        request.method,
        request.url.path,
        type(getattr(exc, "orig", None) or exc).__name__,
    )
    return problem(
        503,
        "Service Unavailable",
        "the database is unreachable; retry later",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _client_disconnect(request: Request, _: Exception) -> Response:
    # The client hung up while sending its request: nobody is left to answer.
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _unexpected_error(_: Request, exc: Exception) -> Response:
    # Starlette logs the traceback after this answer; the body names nothing of the internals.
    return problem(500, "Internal Server Error", "an unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through problem details."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _database_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unexpected_error)
