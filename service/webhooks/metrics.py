"""Webhook metrics: this process's delivery counters, and the outbox's gauges from Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from service.webhooks import queries
from service.webhooks.endpoint import is_disabled

#: Delivery latency buckets: sub-second is the goal, hours happen when the CMS is down.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)


class DeliveryMetrics:
    """What this process's deliveries did (counters live per process; Prometheus sums them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "valossa_ingest_webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered, retrying (failed, tried again "
            "later), failed (failed, the retry schedule is spent).",
            ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "valossa_ingest_webhook_delivery_latency_seconds",
            "From the webhook written (the analysis ended) to the CMS's 2xx; replays not counted.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.disablings = Counter(
            "valossa_ingest_webhook_endpoint_disablings",
            "Times the CMS endpoint was disabled after WEBHOOK_DISABLE_AFTER_S of failures.",
            registry=registry,
        )


@dataclass(frozen=True)
class OutboxGauges:
    """The outbox as Postgres has it."""

    pending: int
    failed: int
    endpoint_disabled: bool


async def read_outbox_gauges(session: AsyncSession, url: str | None) -> OutboxGauges:
    """Count pending and failed deliveries (from indexes) and read the endpoint's state."""
    pending, failed = await queries.backlog(session)
    disabled = url is not None and await is_disabled(session, url)
    return OutboxGauges(pending, failed, disabled)


class OutboxCollector(Collector):
    """A snapshot of OutboxGauges as Prometheus gauges (the names predate this module)."""

    def __init__(self, gauges: OutboxGauges) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "valossa_ingest_webhooks_pending",
            "CMS webhooks not yet delivered (the pending backlog).",
            value=self.gauges.pending,
        )
        yield GaugeMetricFamily(
            "valossa_ingest_webhooks_given_up",
            "CMS webhooks that failed every attempt of their retry schedule.",
            value=self.gauges.failed,
        )
        yield GaugeMetricFamily(
            "valossa_ingest_webhook_endpoint_disabled",
            "1 while the CMS endpoint is disabled (POST /v1/webhooks/enable resumes it).",
            value=int(self.gauges.endpoint_disabled),
        )
