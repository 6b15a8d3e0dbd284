"""Who works on what: due analyses are claimed in Postgres (FOR UPDATE SKIP LOCKED) as leases.

Any number of worker replicas may tick at once; a row is worked on by the one replica whose claim
(`claimed_until`) is current. A replica that dies loses its claims when they expire.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.lifecycle import Lifecycle, utcnow
from service.analyses.models import Analysis, not_terminal
from service.analyses.states import IN_FLIGHT, TERMINAL, AnalysisStatus

log = logging.getLogger(__name__)

#: Serialises the in-flight count and the claim of backlog rows across replicas.
SUBMISSION_LOCK = 0x5641_4C4F_5353_4101
#: Only one replica at a time sweeps for overdue analyses.
SWEEP_LOCK = 0x5641_4C4F_5353_4102

#: States the poller works on (pending rows are claimed by the submission step, under the cap).
WORKING_STATES = (
    AnalysisStatus.UPLOADING,
    AnalysisStatus.SUBMITTING,
    AnalysisStatus.SUBMITTED,
    AnalysisStatus.FETCHING_RESULTS,
)


async def claim_backlog(
    session: AsyncSession,
    lifecycle: Lifecycle,
    *,
    max_in_flight: int,
    lease: timedelta,
    submit_deadline: timedelta,
    limit: int = 100,
) -> list[Analysis]:
    """Move the oldest pending analyses into free in-flight slots and claim them for this worker."""
    await session.execute(select(func.pg_advisory_xact_lock(SUBMISSION_LOCK)))
    in_flight = await session.scalar(
        select(func.count())
        .select_from(Analysis)
        .where(not_terminal(), Analysis.status.in_(IN_FLIGHT))
    )
    free = min(limit, max_in_flight - (in_flight or 0))
    if free <= 0:
        return []
    now = utcnow()
    # One submission per media at a time: a lost new_job answer is recovered by matching
    # list_jobs on customer_media_id, which must not be ambiguous between re-analyses.
    submitting = set(
        await session.scalars(
            select(Analysis.customer_media_id).where(
                not_terminal(), Analysis.status == AnalysisStatus.SUBMITTING
            )
        )
    )
    candidates = (
        await session.scalars(
            select(Analysis)
            .where(not_terminal(), Analysis.status == AnalysisStatus.PENDING)
            .where((Analysis.next_attempt_at.is_(None)) | (Analysis.next_attempt_at <= now))
            .order_by(Analysis.created_at, Analysis.id)
            .limit(free * 2)
            .with_for_update(skip_locked=True)
        )
    ).all()
    rows: list[Analysis] = []
    for analysis in candidates:
        if len(rows) == free or analysis.customer_media_id in submitting:
            continue
        submitting.add(analysis.customer_media_id)
        rows.append(analysis)
    for analysis in rows:
        needs_upload = analysis.video_url is None
        target = AnalysisStatus.UPLOADING if needs_upload else AnalysisStatus.SUBMITTING
        lifecycle.move(
            session, analysis, target, reason="a Valossa slot is free", deadline=submit_deadline
        )
        _claim(analysis, lifecycle.actor, now + lease)
    return rows


async def claim_due(
    session: AsyncSession, *, worker: str, lease: timedelta, limit: int
) -> list[Analysis]:
    """Claim analyses in a working state whose next attempt is due and whose lease is free."""
    now = utcnow()
    rows = (
        await session.scalars(
            select(Analysis)
            .where(not_terminal(), Analysis.status.in_(WORKING_STATES))
            .where(Analysis.next_attempt_at <= now)
            .where((Analysis.claimed_until.is_(None)) | (Analysis.claimed_until < now))
            .order_by(Analysis.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for analysis in rows:
        _claim(analysis, worker, now + lease)
    return list(rows)


def _claim(analysis: Analysis, worker: str, until: object) -> None:
    analysis.claimed_by = worker
    analysis.claimed_until = until  # type: ignore[assignment]
    # A lease that runs out makes the row due at once for whoever picks it up.
    analysis.next_attempt_at = until  # type: ignore[assignment]


async def lock_claimed(
    session: AsyncSession, analysis_id: uuid.UUID, worker: str
) -> Analysis | None:
    """Re-read a claimed analysis under a row lock; None if it is gone or no longer ours."""
    analysis = await session.get(
        Analysis, analysis_id, with_for_update=True, populate_existing=True
    )
    if analysis is None or analysis.claimed_by != worker:
        return None
    if analysis.status in TERMINAL:
        return None
    return analysis


async def renew_lease(
    session: AsyncSession, analysis_id: uuid.UUID, worker: str, lease: timedelta
) -> bool:
    """Extend this worker's claim during a long step; False if the claim was lost."""
    until = utcnow() + lease
    result = await session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.claimed_by == worker)
        .values(claimed_until=until, next_attempt_at=until)
    )
    return bool(getattr(result, "rowcount", 0))


async def flag_overdue(session: AsyncSession, lifecycle: Lifecycle) -> list[Analysis]:
    """Mark analyses past their state's deadline (once), if no other replica is sweeping."""
    got_lock = await session.scalar(select(func.pg_try_advisory_xact_lock(SWEEP_LOCK)))
    if not got_lock:
        return []
    rows = (
        await session.scalars(
            select(Analysis)
            .where(not_terminal())
            .where(Analysis.deadline_at < utcnow())
            .where(Analysis.overdue_since.is_(None))
            .with_for_update(skip_locked=True)
        )
    ).all()
    for analysis in rows:
        analysis.overdue_since = utcnow()
        lifecycle.note(session, analysis, f"overdue: still {analysis.status} past its deadline")
        log.warning(
            "analysis %s (%s) is overdue: still %s past its deadline",
            analysis.id,
            analysis.customer_media_id,
            analysis.status,
        )
    return list(rows)


async def notify_due(session: AsyncSession) -> None:
    """Wake LISTENing workers at commit (a callback made an analysis due now)."""
    await session.execute(text("NOTIFY valossa_ingest_due"))
