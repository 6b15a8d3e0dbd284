"""Operational gauges read from Postgres, in the Prometheus text format."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis, Webhook, not_terminal
from service.analyses.states import HOLDS_SLOT, TERMINAL, AnalysisStatus


@dataclass(frozen=True)
class Gauges:
    """What an operator watches: live analyses by state, overdue ones, the webhook backlog."""

    live_by_status: dict[str, int]
    overdue: int
    due_now: int
    webhooks_pending: int
    webhooks_given_up: int

    @property
    def in_flight(self) -> int:
        return sum(self.live_by_status.get(status, 0) for status in HOLDS_SLOT)


async def read_gauges(session: AsyncSession) -> Gauges:
    """Count live (non-terminal) analyses only: the partial index keeps this cheap at any size."""
    rows = await session.execute(
        select(Analysis.status, func.count()).where(not_terminal()).group_by(Analysis.status)
    )
    by_status: dict[str, int] = {str(s): 0 for s in AnalysisStatus if s not in TERMINAL}
    by_status.update({str(status): int(count) for status, count in rows.all()})
    overdue = await session.scalar(
        select(func.count())
        .select_from(Analysis)
        .where(not_terminal(), Analysis.deadline_at < utcnow())
    )
    due = await session.scalar(
        select(func.count())
        .select_from(Analysis)
        .where(not_terminal(), Analysis.next_attempt_at <= utcnow())
    )
    pending = await session.scalar(
        select(func.count())
        .select_from(Webhook)
        .where(Webhook.delivered_at.is_(None), Webhook.gave_up_at.is_(None))
    )
    # A given-up webhook is never delivered: `delivered_at IS NULL` keeps this count on the
    # partial index of undelivered webhooks instead of scanning every webhook ever sent.
    given_up = await session.scalar(
        select(func.count())
        .select_from(Webhook)
        .where(Webhook.delivered_at.is_(None), Webhook.gave_up_at.is_not(None))
    )
    return Gauges(by_status, overdue or 0, due or 0, pending or 0, given_up or 0)


def exposition(gauges: Gauges, *, max_in_flight: int) -> str:
    """The gauges as Prometheus text exposition (version 0.0.4)."""
    lines = [
        "# HELP valossa_ingest_analyses Analyses not yet ended, by state.",
        "# TYPE valossa_ingest_analyses gauge",
        *(
            f'valossa_ingest_analyses{{status="{status}"}} {count}'
            for status, count in sorted(gauges.live_by_status.items())
        ),
        "# HELP valossa_ingest_in_flight Analyses holding a Valossa slot.",
        "# TYPE valossa_ingest_in_flight gauge",
        f"valossa_ingest_in_flight {gauges.in_flight}",
        "# HELP valossa_ingest_in_flight_limit VALOSSA_MAX_HOLDS_SLOT.",
        "# TYPE valossa_ingest_in_flight_limit gauge",
        f"valossa_ingest_in_flight_limit {max_in_flight}",
        "# HELP valossa_ingest_overdue Analyses past the deadline of their state.",
        "# TYPE valossa_ingest_overdue gauge",
        f"valossa_ingest_overdue {gauges.overdue}",
        "# HELP valossa_ingest_due Analyses whose next step is due now (if it grows, workers lag).",
        "# TYPE valossa_ingest_due gauge",
        f"valossa_ingest_due {gauges.due_now}",
        "# HELP valossa_ingest_webhooks_pending CMS webhooks not yet delivered.",
        "# TYPE valossa_ingest_webhooks_pending gauge",
        f"valossa_ingest_webhooks_pending {gauges.webhooks_pending}",
        "# HELP valossa_ingest_webhooks_given_up CMS webhooks given up after days of failure.",
        "# TYPE valossa_ingest_webhooks_given_up gauge",
        f"valossa_ingest_webhooks_given_up {gauges.webhooks_given_up}",
    ]
    return "\n".join(lines) + "\n"
