"""Claims of the source_url path: downloads take no Valossa slot; uploads take one when free.

A pending analysis with a source_url is claimed into `downloading` by the worker's download
pool (claim_downloads), never counted against VALOSSA_MAX_IN_FLIGHT. Once its file is on disk,
the same step asks for a slot (take_slot) under the lock and count that claim_backlog uses,
and moves to `uploading` only when one is free.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.lifecycle import Lifecycle
from service.analyses.models import NOT_TERMINAL_SQL, Analysis, not_terminal
from service.analyses.states import AnalysisStatus, first_state
from service.analyses.steps.leases import (
    SUBMISSION_LOCK,
    Claim,
    LeaseLost,
    claim_row,
    database_now,
    in_flight,
    lock_claimed,
    remember_now,
    submitting_media,
)
from service.db import Reader

#: A source_url analysis whose download is due: pending, or downloading again (after a
#: transient failure, or its worker died) once its lease ran out.
_DOWNLOAD_DUE = (
    not_terminal(),
    or_(
        and_(Analysis.status == AnalysisStatus.PENDING, Analysis.video_url.is_(None)),
        Analysis.status == AnalysisStatus.DOWNLOADING,
    ),
    or_(Analysis.next_attempt_at.is_(None), Analysis.next_attempt_at <= func.now()),
    or_(Analysis.claimed_until.is_(None), Analysis.claimed_until < func.now()),
)


#: Whether a download is due, as SQL for the Reader (a constant: psycopg prepares it): the
#: conditions of _DOWNLOAD_DUE (tests/analyses/test_download_claims.py holds them together).
ANY_DOWNLOAD_DUE_SQL = f"""
SELECT EXISTS (
    SELECT 1 FROM analyses
    WHERE {NOT_TERMINAL_SQL}
      AND ((status = '{AnalysisStatus.PENDING.value}' AND video_url IS NULL)
           OR status = '{AnalysisStatus.DOWNLOADING.value}')
      AND (next_attempt_at IS NULL OR next_attempt_at <= now())
      AND (claimed_until IS NULL OR claimed_until < now())
)
"""


async def downloads_due(reader: Reader) -> bool:
    """Whether claim_downloads would find a download to claim: one read without locks, outside
    any transaction, for a worker whose step slots are all taken (most of its wake-ups under
    load) before it opens a transaction that would find nothing."""
    [(due,)] = await reader.rows(ANY_DOWNLOAD_DUE_SQL, {})
    return bool(due)


async def claim_downloads(
    session: AsyncSession,
    lifecycle: Lifecycle,
    *,
    worker: str,
    max_in_flight: int,
    lease_s: float,
    download_deadline: timedelta,
    limit: int,
) -> list[tuple[Claim, Analysis]]:
    """Claim source_url analyses to download, oldest first: pending ones (moved to
    downloading) and downloads due again (after a transient failure, or whose worker died).

    A download holds no Valossa slot, but starts only while one is free: once downloaded, it
    waits for a slot, and downloading ahead of a full Valossa would only fill disks.
    """
    if limit <= 0:
        return []
    # now() comes with the rows (the clock of the leases), not in a query of its own.
    rows = (
        await session.execute(
            select(Analysis, func.now())
            .where(*_DOWNLOAD_DUE)
            .order_by(Analysis.created_at, Analysis.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    # Counted only when there is something to download (rarely, beside many video_url
    # analyses); rows locked in vain are free again when the transaction ends.
    if not rows or await in_flight(session) >= max_in_flight:
        return []
    now: datetime = rows[0][1]
    remember_now(session, now)
    claimed: list[tuple[Claim, Analysis]] = []
    for analysis, _ in rows:
        if analysis.status is AnalysisStatus.PENDING:
            lifecycle.move(
                session,
                analysis,
                first_state(needs_download=True),
                reason="downloading source_url",
                deadline=download_deadline,
            )
        analysis.download_attempts += 1
        analysis.transfer_done_bytes = 0
        analysis.transfer_total_bytes = None
        analysis.next_attempt_at = now
        claimed.append((claim_row(analysis, worker, now, lease_s), analysis))
    return claimed


async def take_slot(
    session: AsyncSession,
    lifecycle: Lifecycle,
    claim: Claim,
    *,
    max_in_flight: int,
    submit_deadline: timedelta,
    size: int,
) -> bool:
    """Move a downloaded analysis (still ours) into a free Valossa slot: `uploading`.

    False while no slot is free, while older analyses in the backlog wait for one (they come
    first), or while another analysis of the same media is on its way to new_job. Raises
    LeaseLost if the claim is gone (canceled, deleted, taken over).
    """
    await session.execute(select(func.pg_advisory_xact_lock(SUBMISSION_LOCK)))
    analysis = await lock_claimed(session, claim)
    if analysis is None or analysis.status is not AnalysisStatus.DOWNLOADING:
        raise LeaseLost(claim)
    now = await database_now(session)
    older_waiting = await session.scalar(
        select(func.count())
        .select_from(Analysis)
        .where(not_terminal(), Analysis.status == AnalysisStatus.PENDING)
        .where(Analysis.video_url.is_not(None), Analysis.next_attempt_at <= now)
        .where(Analysis.created_at < analysis.created_at)
    )
    if await in_flight(session) + (older_waiting or 0) >= max_in_flight:
        return False
    if analysis.customer_media_id in await submitting_media(session):
        return False
    lifecycle.move(
        session,
        analysis,
        AnalysisStatus.UPLOADING,
        reason=f"downloaded {size} bytes; a Valossa slot is free",
        deadline=submit_deadline,
    )
    analysis.download_attempts = 0
    analysis.attempts = 0
    analysis.error = None
    analysis.transfer_done_bytes = 0
    analysis.transfer_total_bytes = size
    return True
