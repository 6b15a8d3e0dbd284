"""Operational gauges of the analyses, read from Postgres and exposed as a Prometheus collector."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.callback_trust import CallbackHealth, read_callback_health
from service.analyses.models import Analysis, not_terminal
from service.analyses.states import HOLDS_SLOT, TERMINAL, AnalysisStatus


@dataclass(frozen=True)
class Gauges:
    """What an operator watches: live analyses by state, overdue ones, due work."""

    live_by_status: dict[str, int]
    overdue: int
    due_now: int
    callbacks: CallbackHealth

    @property
    def in_flight(self) -> int:
        return sum(self.live_by_status.get(status, 0) for status in HOLDS_SLOT)


async def read_gauges(session: AsyncSession) -> Gauges:
    """Count live (non-terminal) analyses only: the partial index keeps this cheap at any size."""
    rows = await session.execute(
        select(
            Analysis.status,
            func.count(),
            func.count().filter(Analysis.deadline_at < func.now()),
            func.count().filter(Analysis.next_attempt_at <= func.now()),
        )
        .where(not_terminal())
        .group_by(Analysis.status)
    )
    by_status: dict[str, int] = {str(s): 0 for s in AnalysisStatus if s not in TERMINAL}
    overdue = due = 0
    for status, count, overdue_count, due_count in rows.all():
        by_status[str(status)] = int(count)
        overdue += int(overdue_count)
        due += int(due_count)
    return Gauges(by_status, overdue, due, await read_callback_health(session))


class AnalysesCollector(Collector):
    """A snapshot of Gauges as Prometheus gauges (names kept from the hand-written version)."""

    def __init__(self, gauges: Gauges, *, max_in_flight: int) -> None:
        self.gauges = gauges
        self.max_in_flight = max_in_flight

    def collect(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "valossa_ingest_analyses", "Analyses not yet ended, by state.", labels=["status"]
        )
        for status, count in sorted(self.gauges.live_by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "valossa_ingest_in_flight",
            "Analyses holding a Valossa slot.",
            value=self.gauges.in_flight,
        )
        yield GaugeMetricFamily(
            "valossa_ingest_in_flight_limit", "VALOSSA_MAX_IN_FLIGHT.", value=self.max_in_flight
        )
        yield GaugeMetricFamily(
            "valossa_ingest_overdue",
            "Analyses past the deadline of their state.",
            value=self.gauges.overdue,
        )
        yield GaugeMetricFamily(
            "valossa_ingest_due",
            "Analyses whose next step is due now (if it grows, workers lag).",
            value=self.gauges.due_now,
        )
        callbacks = self.gauges.callbacks
        yield GaugeMetricFamily(
            "valossa_ingest_callbacks_trusted",
            "1 while Valossa's callbacks announce the end of jobs (polling is then a safety net "
            "every CALLBACK_SAFETY_POLL_S), 0 while polling follows Valossa's schedule.",
            value=int(callbacks.trusted),
        )
        yield GaugeMetricFamily(
            "valossa_ingest_callbacks_announced_ratio",
            "Of the latest Valossa jobs that ended, the share a callback announced.",
            value=callbacks.announced_share,
        )
