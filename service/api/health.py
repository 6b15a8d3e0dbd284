"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.api.deps import ResourcesDep
from service.migrate import current_revisions

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
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """200 when Postgres answers and migrations are at head; 503 with a `reason` otherwise."""
    try:
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            revisions = await current_revisions(connection)
    except Exception as exc:
        log.warning("readiness check failed: database unreachable (%s)", type(exc).__name__)
        return JSONResponse(
            {"status": "unavailable", "reason": "database unreachable"}, status_code=503
        )
    if revisions != resources.expected_revisions:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "database schema is not at the expected migration; "
                "run `valossa-ingest migrate`",
                "database_revisions": sorted(revisions),
                "expected_revisions": sorted(resources.expected_revisions),
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready"})
