"""Our OpenAPI document, made to say what the app really sends: every error is a `Problem`.

FastAPI documents validation errors as its own `HTTPValidationError`; our handlers answer
problem details for every error (service/errors.py). This completes each operation with the
errors that the edge itself can answer (authentication, body limits, database outage, an
unexpected failure), and gives every 4xx/5xx response the one `Problem` schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.auth import CMS_PREFIX, CMS_SCHEME, CMS_SECURITY_SCHEME
from service.errors import PROBLEM_JSON, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

#: The operations' groups, in the order a reader meets them (the routes' own order puts the
#: hottest reads first, for matching).
TAGS = [
    {"name": "health", "description": "Liveness, readiness and Prometheus metrics."},
    {"name": "analyses", "description": "Ask for an analysis of a media; follow it."},
    {"name": "media", "description": "A media's state, its stored metadata, its erasure."},
    {"name": "search", "description": "Find media by what Valossa saw and heard."},
    {"name": "callbacks", "description": "Where Valossa reports a finished job."},
    {"name": "face galleries", "description": "Known faces that Valossa names in results."},
    {"name": "webhooks", "description": "The CMS's notifications: deliveries and replays."},
    {"name": "uploads", "description": "Media files sent through us, in chunks."},
]

#: Errors any operation may answer, and when.
_EDGE_ERRORS = {
    "400": "Malformed request (unreadable body or parameter)",
    "401": "Missing or invalid bearer token",
    "404": "Not found",
    "408": "The request body did not arrive in time",
    "413": "The request body is over the limit",
    "422": "Invalid request; `errors` lists each problem",
    "500": "Unexpected error (details are in the service's log, never in the answer)",
    "503": "The database is unreachable, or Valossa is where stated; see `Retry-After`",
}


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with problem details for every error (cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = Problem.model_json_schema()
    spec["components"].setdefault("securitySchemes", {})[CMS_SCHEME] = CMS_SECURITY_SCHEME
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            _complete(path, operation)
    app.openapi_schema = spec
    return spec


def _complete(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    has_body = "requestBody" in operation
    statuses = {"500"}
    if path not in ("/healthz",):
        statuses.add("503")
    if operation.get("parameters") or has_body:
        statuses.add("422")
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add("404")
    if has_body:
        statuses |= {"400", "408", "413"}
    if path.startswith(CMS_PREFIX):
        statuses.add("401")
        # Enforced for the whole prefix by the CmsAuthentication middleware, not per route.
        operation["security"] = [{CMS_SCHEME: []}]
    for status in statuses:
        responses.setdefault(status, {})
    for status, response in responses.items():
        if status[0] in "45":
            if not response.get("description") or response["description"] in (
                "Validation Error",
                "Additional Response",
            ):
                response["description"] = _EDGE_ERRORS.get(status, "Error")
            response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    operation["responses"] = dict(sorted(responses.items()))
