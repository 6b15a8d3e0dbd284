"""The one place that turns failures into problem-details responses (RFC 9457).

A ServiceError (service/errors.py) answers its own status and detail; a database that cannot be
reached is a 503 with Retry-After; anything unexpected a 500 that names nothing of the internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from service.db import DATABASE_FAILURES, is_database_unavailable
from service.errors import PROBLEM_JSON, ServiceError

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying while the database is unreachable.
DATABASE_RETRY_AFTER_S = 2
#: ... and after any other 503 (Valossa unreachable for a step that needs it now).
UNAVAILABLE_RETRY_AFTER_S = 5


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
    headers = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    elif exc.status_code == 503:
        headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
    return problem(exc.status_code, exc.title, exc.detail, headers=headers, **exc.extra)


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> ProblemResponse:
    """A 422 listing each error's location, message and type (pydantic's error shape)."""
    # The input is never echoed: it may be large, or a secret sent in the wrong field.
    listed = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in errors
    ]
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in listed[:5])
    return problem(422, "Unprocessable Content", f"invalid request: {summary}", errors=listed)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(exc.errors())


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
    # Through the included routers: the app's own list holds them, not their routes.
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE and route.methods:
            methods |= set(route.methods)
    return sorted(methods)


async def _database_error(request: Request, exc: Exception) -> Response:
    if not is_database_unavailable(exc):
        raise exc  # a bug: the last-resort handler answers 500 and the traceback is logged
    if getattr(exc, "connection_invalidated", False):
        request.state.database_connection_lost = True  # a GET is run again (api/retry.py)
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
    # Starlette re-raises the exception after this answer; uvicorn then logs the traceback and
    # closes the connection. `Connection: close` tells the client so: without it a kept-alive
    # client sends its next request into the closed socket and sees a reset instead of an answer.
    # The body names nothing of the internals.
    return problem(
        500,
        "Internal Server Error",
        "an unexpected error occurred",
        headers={"Connection": "close"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through problem details."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for database_failure in DATABASE_FAILURES:
        app.add_exception_handler(database_failure, _database_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unexpected_error)
