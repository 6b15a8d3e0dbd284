"""The operator page's SQL: keyset pages of analyses, and an analysis's deliveries.

Lists stop at a page and never count a whole table. The gauges above the list are
`service.analyses.metrics.read_gauges`, the same numbers /metrics exports.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis, not_terminal
from service.analyses.states import AnalysisStatus
from service.webhooks.models import Webhook


def overdue() -> ColumnElement[bool]:
    """A live analysis flagged overdue, or past its deadline and not yet flagged."""
    return or_(Analysis.overdue_since.is_not(None), Analysis.deadline_at < func.now())


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
