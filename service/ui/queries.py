"""The operator page's SQL: live gauges from the partial indexes, keyset pages, deliveries.

Nothing here counts a whole big table: gauges read only non-terminal analyses and
undelivered webhooks (both behind partial indexes), and lists stop at a page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis, not_terminal
from service.analyses.states import HOLDS_SLOT, TERMINAL, AnalysisStatus
from service.webhooks import queries as webhook_queries
from service.webhooks.models import Webhook


@dataclass(frozen=True)
class Dashboard:
    """Live analyses by state, overdue and due ones, and the webhook backlog."""

    live_by_status: dict[str, int]
    overdue: int
    due_now: int
    webhooks_undelivered: int
    webhooks_given_up: int

    @property
    def in_flight(self) -> int:
        return sum(self.live_by_status[s] for s in HOLDS_SLOT)

    @property
    def backlog(self) -> int:
        return self.live_by_status[AnalysisStatus.PENDING]


def overdue() -> ColumnElement[bool]:
    """A live analysis flagged overdue, or past its deadline and not yet flagged."""
    return or_(Analysis.overdue_since.is_not(None), Analysis.deadline_at < func.now())


async def dashboard(session: AsyncSession) -> Dashboard:
    """The gauges at the top of the analyses page (two small aggregate queries)."""
    rows = await session.execute(
        select(
            Analysis.status,
            func.count(),
            func.count().filter(overdue()),
            func.count().filter(Analysis.next_attempt_at <= func.now()),
        )
        .where(not_terminal())
        .group_by(Analysis.status)
    )
    by_status = {str(s): 0 for s in AnalysisStatus if s not in TERMINAL}
    late = due = 0
    for status, count, overdue_count, due_count in rows.all():
        by_status[str(status)] = int(count)
        late += int(overdue_count)
        due += int(due_count)
    pending, failed = await webhook_queries.backlog(session)
    return Dashboard(by_status, late, due, pending, failed)


async def page_of_analyses(
    session: AsyncSession,
    *,
    status: AnalysisStatus | None,
    customer_media_id: str | None,
    overdue_only: bool,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Analysis]:
    """Up to `limit` analyses, newest first, after the keyset position `before`."""
    query = select(Analysis)
    if status is not None:
        query = query.where(Analysis.status == status)
    if customer_media_id is not None:
        query = query.where(Analysis.customer_media_id == customer_media_id)
    if overdue_only:
        query = query.where(not_terminal(), overdue())
    if before is not None:
        query = query.where(tuple_(Analysis.created_at, Analysis.id) < tuple_(*before))
    query = query.order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def webhooks_of(session: AsyncSession, analysis_id: uuid.UUID) -> list[Webhook]:
    """The CMS notifications of one analysis, oldest first."""
    rows = await session.scalars(
        select(Webhook).where(Webhook.analysis_id == analysis_id).order_by(Webhook.created_at)
    )
    return list(rows)
