"""Domain errors: what a flow raises when the client should hear about a failure.

ServiceError (500)
├── BadRequest (400)
├── Unauthorized (401)
├── NotFound (404)
├── Conflict (409)
├── Unprocessable (422)
└── Unavailable (503)

service/api/problems.py turns them (and every other failure) into problem-details responses
(RFC 9457). This module knows nothing of HTTP frameworks, so domain packages may raise them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"


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
