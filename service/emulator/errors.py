"""Valossa-style error answers: `{"errors": [{"message": ...}]}` with 400/401/404/500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class EmulatorError(Exception):
    """A failure answered to the client with `status_code` and one error message."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadRequest(EmulatorError):
    """Malformed request, missing field or invalid value (400)."""


class Unauthorized(EmulatorError):
    """Unknown or missing API key (401)."""

    status_code = 401


class NotFound(EmulatorError):
    """The job, upload, gallery, face or image does not exist for this key (404)."""

    status_code = 404


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The documented error body with one message."""
    return JSONResponse(
        {"errors": [{"message": message}]}, status_code=status_code, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure, including FastAPI's own, to the Valossa error body."""

    async def on_emulator_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EmulatorError)
        return error_response(exc.status_code, exc.message)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        name = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return error_response(400, f"Invalid value for parameter: {name}")

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_response(404, "Unknown API function")
        if exc.status_code == 405:
            return error_response(400, "HTTP method not allowed for this API function")
        return error_response(exc.status_code, str(exc.detail))

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("emulator bug", exc_info=exc)
        return error_response(500, "Internal server error")

    app.add_exception_handler(EmulatorError, on_emulator_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
