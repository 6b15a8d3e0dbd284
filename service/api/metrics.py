"""Prometheus metrics of the whole deployment (they come from Postgres, so any replica answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from service.analyses.metrics import exposition, read_gauges
from service.api.deps import ResourcesDep

router = APIRouter(tags=["health"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(resources: ResourcesDep) -> PlainTextResponse:
    """Live analyses by state, Valossa slots in use, overdue analyses and the webhook backlog."""
    async with resources.sessionmaker() as session:
        gauges = await read_gauges(session)
    text = exposition(gauges, max_in_flight=resources.settings.valossa_max_in_flight)
    return PlainTextResponse(text, media_type=PROMETHEUS_TEXT)
