"""The SQL of the CMS-facing API: plain functions over a session, no commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis, AnalysisEvent, StoredResult
from service.analyses.states import AnalysisStatus
from service.db import Reader


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


@dataclass(frozen=True, slots=True)
class AnalysisRecord:
    """What the resource of an analysis shows, read without the ORM (see `Reader`)."""

    id: uuid.UUID
    customer_media_id: str
    status: AnalysisStatus
    job_id: str | None
    valossa_status: str | None
    media_transfer_status: str | None
    valossa_details: str | None
    video_url: str | None
    source_url: str | None
    title: str | None
    description: str | None
    transcript_url: str | None
    language: str
    face_gallery_id: str | None
    result_types: list[str]
    transfer_done_bytes: int | None
    transfer_total_bytes: int | None
    error: str | None
    deadline_at: datetime | None
    overdue_since: datetime | None
    cancel_requested_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A stored-result record as an analysis's resource shows it, read without the ORM."""

    analysis_id: uuid.UUID
    result_type: str
    state: str
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    metadata_format: str | None
    absent_reason: str | None


_ANALYSIS_COLUMNS = [f.name for f in fields(AnalysisRecord)]
_RESULT_COLUMNS = [f.name for f in fields(ResultRecord)]
_A = len(_ANALYSIS_COLUMNS)


def _analysis_record(row: tuple[Any, ...]) -> AnalysisRecord:
    values = list(row[:_A])
    values[2] = AnalysisStatus(values[2])
    return AnalysisRecord(*values)


def _result_records(rows: list[tuple[Any, ...]], first: int) -> list[ResultRecord]:
    """The result records in the columns from `first` of a left join (none: NULLs)."""
    return [ResultRecord(*row[first:]) for row in rows if row[first] is not None]


def _columns(table: str, names: list[str]) -> str:
    return ", ".join(f"{table}.{name}" for name in names)


_ANALYSIS_WITH_RESULTS_SQL = f"""
SELECT {_columns("a", _ANALYSIS_COLUMNS)}, {_columns("r", _RESULT_COLUMNS)}
FROM analyses a LEFT JOIN stored_results r ON r.analysis_id = a.id
WHERE a.id = %(analysis_id)s
ORDER BY r.result_type
"""


async def analysis_with_results(
    reader: Reader, analysis_id: uuid.UUID
) -> tuple[AnalysisRecord, list[ResultRecord]] | None:
    """One analysis and its stored-result records, in one statement."""
    rows = await reader.rows(_ANALYSIS_WITH_RESULTS_SQL, {"analysis_id": analysis_id})
    if not rows:
        return None
    return _analysis_record(rows[0]), _result_records(rows, _A)


@dataclass(frozen=True)
class MediaState:
    """What a media's resource is made of, read in one statement."""

    latest: AnalysisRecord
    latest_results: list[ResultRecord]
    current_id: uuid.UUID | None
    current_stored_types: set[str]
    analyses_count: int


#: The media's analyses are read once, by the (customer_media_id, created_at, id) index, and
#: the newest, the newest finished and the count taken from them: with a filter on status of
#: its own, the planner may pick the status index and walk every finished analysis (it did
#: until the table's statistics were gathered: 0.2 ms for 3,000 rows, on every request).
_MEDIA_STATE_SQL = f"""
WITH of_media AS MATERIALIZED (
    SELECT id, status, created_at FROM analyses WHERE customer_media_id = %(customer_media_id)s
), newest_finished AS (
    SELECT id FROM of_media WHERE status = 'finished' ORDER BY created_at DESC, id DESC LIMIT 1
), latest AS (
    SELECT * FROM analyses
    WHERE id = (SELECT id FROM of_media ORDER BY created_at DESC, id DESC LIMIT 1)
)
SELECT {_columns("latest", _ANALYSIS_COLUMNS)},
    (SELECT id FROM newest_finished),
    (SELECT count(*) FROM of_media),
    {_columns("r", _RESULT_COLUMNS)}
FROM latest LEFT JOIN stored_results r
    ON r.analysis_id = latest.id OR r.analysis_id = (SELECT id FROM newest_finished)
ORDER BY r.result_type
"""


async def media_state(reader: Reader, customer_media_id: str) -> MediaState | None:
    """The media's newest analysis with its results, its newest finished analysis's stored
    types, and how many analyses it has: one statement (None if the media is unknown)."""
    rows = await reader.rows(_MEDIA_STATE_SQL, {"customer_media_id": customer_media_id})
    if not rows:
        return None
    latest = _analysis_record(rows[0])
    current_id, analyses_count = rows[0][_A], rows[0][_A + 1]
    records = _result_records(rows, _A + 2)
    return MediaState(
        latest=latest,
        latest_results=[r for r in records if r.analysis_id == latest.id],
        current_id=current_id,
        current_stored_types={
            r.result_type for r in records if r.analysis_id == current_id and r.state == "stored"
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
