"""The SQL of the CMS-facing API: plain functions over a session, no commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.analyses.models import Analysis, AnalysisEvent, StoredResult
from service.analyses.states import AnalysisStatus


async def get_analysis(
    session: AsyncSession, analysis_id: uuid.UUID, *, for_update: bool = False
) -> Analysis | None:
    """One analysis by id (locked for the transaction when `for_update`)."""
    query = select(Analysis).where(Analysis.id == analysis_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def by_idempotency_key(session: AsyncSession, key: str) -> Analysis | None:
    """The analysis created with this Idempotency-Key, if any."""
    return await session.scalar(select(Analysis).where(Analysis.idempotency_key == key))


async def results_of(
    session: AsyncSession, analysis_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[StoredResult]]:
    """The stored-result records of several analyses, by analysis id."""
    found: dict[uuid.UUID, list[StoredResult]] = defaultdict(list)
    if not analysis_ids:
        return found
    rows = await session.scalars(
        select(StoredResult)
        .where(StoredResult.analysis_id.in_(analysis_ids))
        .order_by(StoredResult.analysis_id, StoredResult.result_type)
    )
    for row in rows:
        found[row.analysis_id].append(row)
    return found


async def events_of(session: AsyncSession, analysis_id: uuid.UUID) -> list[AnalysisEvent]:
    """The history of an analysis, oldest first."""
    rows = await session.scalars(
        select(AnalysisEvent)
        .where(AnalysisEvent.analysis_id == analysis_id)
        .order_by(AnalysisEvent.id)
    )
    return list(rows)


async def page_of_analyses(
    session: AsyncSession,
    *,
    customer_media_id: str | None,
    status: AnalysisStatus | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Analysis]:
    """Up to `limit` analyses, newest first, strictly after the keyset position `before`."""
    query = select(Analysis)
    if customer_media_id is not None:
        query = query.where(Analysis.customer_media_id == customer_media_id)
    if status is not None:
        query = query.where(Analysis.status == status)
    if before is not None:
        query = query.where(tuple_(Analysis.created_at, Analysis.id) < tuple_(*before))
    query = query.order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def analysis_with_results(
    session: AsyncSession, analysis_id: uuid.UUID
) -> tuple[Analysis, list[StoredResult]] | None:
    """One analysis and its stored-result records, in one query."""
    rows = (
        await session.execute(
            select(Analysis, StoredResult)
            .outerjoin(StoredResult, StoredResult.analysis_id == Analysis.id)
            .where(Analysis.id == analysis_id)
            .order_by(StoredResult.result_type)
        )
    ).all()
    if not rows:
        return None
    return rows[0][0], [record for _, record in rows if record is not None]


@dataclass(frozen=True)
class MediaState:
    """What a media's resource is made of, read in one query."""

    latest: Analysis
    latest_results: list[StoredResult]
    current_id: uuid.UUID | None
    current_stored_types: set[str]
    analyses_count: int


def _media_state_statement() -> Select[Analysis, uuid.UUID | None, int, StoredResult]:
    """The query of `media_state`, with the media id as the parameter `customer_media_id`."""
    of_media = Analysis.customer_media_id == bindparam("customer_media_id", type_=String)
    newest = (Analysis.created_at.desc(), Analysis.id.desc())
    latest = aliased(
        Analysis, select(Analysis).where(of_media).order_by(*newest).limit(1).subquery()
    )
    current_id = (
        select(Analysis.id)
        .where(of_media, Analysis.status == AnalysisStatus.FINISHED)
        .order_by(*newest)
        .limit(1)
        .scalar_subquery()
    )
    count = select(func.count()).select_from(Analysis).where(of_media).scalar_subquery()
    return (
        select(latest, current_id.label("current_id"), count.label("count"), StoredResult)
        .outerjoin(
            StoredResult,
            or_(StoredResult.analysis_id == latest.id, StoredResult.analysis_id == current_id),
        )
        .order_by(StoredResult.result_type)
    )


#: Built once: building it (an aliased subquery of every column) cost more CPU than the rest
#: of a `GET /v1/media/{id}`; the built statement also keeps its cache key.
_MEDIA_STATE = _media_state_statement()


async def media_state(session: AsyncSession, customer_media_id: str) -> MediaState | None:
    """The media's newest analysis with its results, its newest finished analysis's stored
    types, and how many analyses it has: one query (None if the media is unknown)."""
    rows = (await session.execute(_MEDIA_STATE, {"customer_media_id": customer_media_id})).all()
    if not rows:
        return None
    analysis, current, analyses_count = rows[0][0], rows[0][1], rows[0][2]
    records = [row[3] for row in rows if row[3] is not None]
    return MediaState(
        latest=analysis,
        latest_results=[r for r in records if r.analysis_id == analysis.id],
        current_id=current,
        current_stored_types={
            r.result_type for r in records if r.analysis_id == current and r.state == "stored"
        },
        analyses_count=int(analyses_count),
    )


async def latest_of_media(
    session: AsyncSession, customer_media_id: str, *, status: AnalysisStatus | None = None
) -> Analysis | None:
    """The newest analysis of a media (optionally only among those in `status`)."""
    query = select(Analysis).where(Analysis.customer_media_id == customer_media_id)
    if status is not None:
        query = query.where(Analysis.status == status)
    query = query.order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(1)
    return await session.scalar(query)


async def count_of_media(session: AsyncSession, customer_media_id: str) -> int:
    """How many analyses a media has."""
    count = await session.scalar(
        select(func.count())
        .select_from(Analysis)
        .where(Analysis.customer_media_id == customer_media_id)
    )
    return count or 0


async def stored_result(
    session: AsyncSession, analysis_id: uuid.UUID, result_type: str
) -> StoredResult | None:
    """The record of one result type of an analysis."""
    return await session.get(StoredResult, (analysis_id, result_type))


async def lock_media(session: AsyncSession, customer_media_id: str) -> list[Analysis]:
    """Every analysis of a media, locked for the transaction."""
    rows = await session.scalars(
        select(Analysis)
        .where(Analysis.customer_media_id == customer_media_id)
        .order_by(Analysis.created_at, Analysis.id)
        .with_for_update()
    )
    return list(rows)


async def delete_analyses(session: AsyncSession, analyses: list[Analysis]) -> int:
    """Delete these analyses; events, results and chunks go by cascade (CMS notifications
    stay: service/webhooks)."""
    if not analyses:
        return 0
    result = await session.execute(
        delete(Analysis).where(Analysis.id.in_([analysis.id for analysis in analyses]))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def record_callback(
    session: AsyncSession, analysis_id: uuid.UUID, *, max_wakeups: int
) -> Analysis | None:
    """Note a Valossa callback and make the submitted analysis due now, unless that changes
    nothing (it is due already and no check is under way) or callbacks have used up their
    `max_wakeups` status checks. The analysis if it was woken, else None."""
    # Valossa can end a job (a bad URL, a short clip) before new_job's answer is recorded: the
    # callback is noted on the submitting analysis, and recording the job then checks its
    # status at once rather than at the safety-net poll. This goes first: if the job is being
    # recorded right now, it waits for that row lock and then matches nothing, and the update
    # below, a statement with a fresh snapshot, finds the analysis submitted.
    await session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.status == AnalysisStatus.SUBMITTING)
        .where(Analysis.callback_wakeups < max_wakeups)
        .values(
            callback_at=func.clock_timestamp(),
            callback_wakeups=Analysis.callback_wakeups + 1,
        )
    )
    now = func.now()
    result = await session.scalars(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.status == AnalysisStatus.SUBMITTED)
        .where(Analysis.callback_wakeups < max_wakeups)
        .where(
            or_(
                Analysis.next_attempt_at.is_(None),
                Analysis.next_attempt_at > now,
                Analysis.claimed_until > now,
            )
        )
        .values(
            callback_at=func.clock_timestamp(),
            callback_wakeups=Analysis.callback_wakeups + 1,
            next_attempt_at=func.least(Analysis.next_attempt_at, now),
        )
        .returning(Analysis)
        .execution_options(populate_existing=True)
    )
    return result.one_or_none()


async def note_late_callback(session: AsyncSession, analysis_id: uuid.UUID) -> bool:
    """Record the first callback of an analysis it does not wake (polling found the job's end
    first, or the analysis is due already): callback_trust counts the job as announced, since
    the callback did arrive. Only an analysis with a Valossa job has anything to announce.
    True if this was its first callback."""
    noted = await session.scalar(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.job_id.is_not(None))
        .where(Analysis.callback_at.is_(None))
        .values(callback_at=func.clock_timestamp())
        .returning(Analysis.id)
    )
    return noted is not None


async def analyses_of_media(session: AsyncSession, customer_media_id: str) -> list[Analysis]:
    """Every analysis of a media, oldest first (not locked)."""
    rows = await session.scalars(
        select(Analysis)
        .where(Analysis.customer_media_id == customer_media_id)
        .order_by(Analysis.created_at, Analysis.id)
    )
    return list(rows)


async def exists(session: AsyncSession, analysis_id: uuid.UUID) -> bool:
    """True if the analysis exists."""
    found = await session.scalar(select(Analysis.id).where(Analysis.id == analysis_id))
    return found is not None
