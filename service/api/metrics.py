"""Prometheus metrics: the deployment's gauges from Postgres (any replica answers the same)
and this process's own counters (webhook deliveries made here)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from service.analyses.metrics import AnalysesCollector, read_gauges
from service.api.deps import ResourcesDep
from service.webhooks.metrics import OutboxCollector, read_outbox_gauges

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format (OpenMetrics when asked for)",
        }
    },
)
async def metrics(request: Request, resources: ResourcesDep) -> Response:
    """Live analyses by state, Valossa slots in use, overdue analyses, the webhook backlog and
    endpoint state, and this process's webhook deliveries by outcome and their latency."""
    settings = resources.settings
    async with resources.sessionmaker() as session:
        analyses = await read_gauges(session)
        outbox = await read_outbox_gauges(session, settings.cms_webhook_url)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AnalysesCollector(analyses, max_in_flight=settings.valossa_max_in_flight))
    registry.register(OutboxCollector(outbox))
    registry.register(resources.registry)
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=content_type)
