"""Keeping the index current: index an analysis when it finishes, catch up on the backlog,
rebuild on demand.

A trigger queues every analysis that becomes finished in `search_backlog`. The worker's loop
runs `index_backlog` whenever it is woken (a step that finished an analysis wakes it), which
takes what is due: a newly finished analysis, a failed attempt (retried with backoff), analyses
stored before search existed. Each analysis is indexed in one transaction
that also removes its backlog row, so a crash at any line leaves it queued.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import queries as analyses_queries
from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from service.search.models import SearchBacklog, SearchMedia
from service.search.writer import IndexStats, write_index

log = logging.getLogger(__name__)

#: Backlog entries taken per sweep (each is one transaction; the next tick takes more).
SWEEP_BATCH = 20
#: Backoff after failed attempts: 10 s, 20 s, 40 s ... capped at an hour.
RETRY_BASE_S = 10.0
RETRY_CAP_S = 3600.0
MAX_ERROR_CHARS = 2000


class NotIndexable(Exception):
    """The media has no finished analysis to index."""


async def index_analysis(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> None:
    """Index a finished analysis if it is still queued; never raises (a failure is logged,
    recorded on its backlog row and retried by the sweep). Safe to call any number of times."""
    try:
        await _index_queued(sessionmaker, analysis_id)
    except Exception as exc:
        log.exception("search index of analysis %s failed; it will be retried", analysis_id)
        await _record_failure(sessionmaker, analysis_id, exc)


async def index_backlog(sessionmaker: SessionMaker, *, limit: int = SWEEP_BATCH) -> int:
    """Index the backlog entries that are due (at most `limit`); how many were taken.
    Never raises: the worker calls it on every tick."""
    try:
        async with sessionmaker() as session:
            # One statement, read in autocommit: no BEGIN and no ROLLBACK around it (the worker
            # runs this after every fetch of results).
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            due = list(
                await session.scalars(
                    select(SearchBacklog.analysis_id)
                    .where(SearchBacklog.next_attempt_at <= func.now())
                    .order_by(SearchBacklog.next_attempt_at)
                    .limit(limit)
                )
            )
    except Exception:
        log.exception("search backlog unreadable; the next tick tries again")
        return 0
    for analysis_id in due:
        await index_analysis(sessionmaker, analysis_id)
    return len(due)


async def reindex_media(sessionmaker: SessionMaker, customer_media_id: str) -> IndexStats:
    """Rebuild a media's index from its newest finished analysis, now (raises on failure)."""
    async with sessionmaker() as session, session.begin():
        await _lock_media(session, customer_media_id)
        current = await analyses_queries.latest_of_media(
            session, customer_media_id, status=AnalysisStatus.FINISHED
        )
        if current is None:
            await _drop_media(session, customer_media_id)
            raise NotIndexable(f"media {customer_media_id!r} has no finished analysis")
        stats = await write_index(session, current)
        await session.execute(
            delete(SearchBacklog).where(SearchBacklog.analysis_id.in_(_analyses_of(current)))
        )
        return stats


async def finished_media(sessionmaker: SessionMaker) -> list[str]:
    """Every media that has a finished analysis, in a stable order."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Analysis.customer_media_id)
            .where(Analysis.status == AnalysisStatus.FINISHED)
            .distinct()
            .order_by(Analysis.customer_media_id)
        )
        return list(rows)


async def _index_queued(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> None:
    async with sessionmaker() as session, session.begin():
        # The entry (locked) and its analysis in one query.
        found = (
            await session.execute(
                select(SearchBacklog, Analysis)
                .join(Analysis, Analysis.id == SearchBacklog.analysis_id)
                .where(SearchBacklog.analysis_id == analysis_id)
                .with_for_update(of=SearchBacklog, skip_locked=True)
            )
        ).one_or_none()
        if found is None:
            return  # already indexed, or another worker is on it right now
        entry, analysis = found
        await _lock_media(session, analysis.customer_media_id)
        current = await analyses_queries.latest_of_media(
            session, analysis.customer_media_id, status=AnalysisStatus.FINISHED
        )
        await session.delete(entry)
        if current is None:
            await _drop_media(session, analysis.customer_media_id)
        elif current.id != analysis.id:
            # A newer analysis finished first: it is the one to keep (queued if not indexed).
            if await session.get(SearchMedia, current.id) is None:
                await _enqueue(session, current.id)
        else:
            stats = await write_index(session, analysis)
            log.info(
                "indexed analysis %s (%s): %d detections, %d occurrences, %d speech "
                "segments in %.2fs",
                analysis.id,
                analysis.customer_media_id,
                stats.detections,
                stats.occurrences,
                stats.speech_segments,
                stats.seconds,
            )


async def _record_failure(
    sessionmaker: SessionMaker, analysis_id: uuid.UUID, exc: Exception
) -> None:
    """Back the entry off and keep the reason; the media's stale rows (of an older analysis)
    go, so a search never answers from anything but the newest finished analysis."""
    reason = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    try:
        async with sessionmaker() as session, session.begin():
            analysis = await session.get(Analysis, analysis_id)
            if analysis is None:
                return
            await _enqueue(session, analysis_id)
            entry = await session.get(SearchBacklog, analysis_id, with_for_update=True)
            assert entry is not None
            entry.attempts += 1
            delay = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(entry.attempts - 1, 20))
            entry.next_attempt_at = func.now() + timedelta(seconds=delay)
            entry.last_error = reason
            await session.execute(
                delete(SearchMedia).where(
                    SearchMedia.customer_media_id == analysis.customer_media_id,
                    SearchMedia.analysis_id != analysis_id,
                )
            )
    except Exception:
        log.exception("could not record the search index failure of analysis %s", analysis_id)


async def _enqueue(session: AsyncSession, analysis_id: uuid.UUID) -> None:
    await session.execute(
        insert(SearchBacklog).values(analysis_id=analysis_id).on_conflict_do_nothing()
    )


async def _drop_media(session: AsyncSession, customer_media_id: str) -> None:
    await session.execute(
        delete(SearchMedia).where(SearchMedia.customer_media_id == customer_media_id)
    )


async def _lock_media(session: AsyncSession, customer_media_id: str) -> None:
    """One indexer per media at a time (a media's index is replaced as a whole)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:media, 1414))"),
        {"media": customer_media_id},
    )


def _analyses_of(current: Analysis) -> Select[uuid.UUID]:
    return select(Analysis.id).where(Analysis.customer_media_id == current.customer_media_id)
