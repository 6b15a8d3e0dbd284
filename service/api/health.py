"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from service.api.deps import ResourcesDep
from service.api.problems import problem
from service.migrate import database_revisions

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz", summary="Liveness: the process is alive")
async def healthz() -> dict[str, str]:
    """Answers 200 as long as the process serves requests; it checks no dependency."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is current",
    responses={503: {"description": "Not ready; `reason` says why"}},
)
async def readyz(resources: ResourcesDep) -> Response:
    """200 when Postgres answers and migrations are at head; 503 (problem details) with a
    `reason` otherwise."""
    try:
        revisions = await database_revisions(resources.engine)
    except Exception as exc:
        log.warning("readiness check failed: database unreachable (%s)", type(exc).__name__)
        return _not_ready("database unreachable")
    if revisions != resources.expected_revisions:
        return _not_ready(
            "database schema is not at the expected migration; run `valossa-ingest migrate`",
            database_revisions=sorted(revisions),
            expected_revisions=sorted(resources.expected_revisions),
        )
    return JSONResponse({"status": "ready"})


def _not_ready(reason: str, **revisions: list[str]) -> Response:
    detail = f"not ready: {reason}"
    return problem(503, "Service Unavailable", detail, headers=None, reason=reason, **revisions)
