"""Leases: who works on which analysis, and for how long. Every time here is the database's.

Any number of worker replicas run at once; Postgres decides who does what. A worker claims a
due row (FOR UPDATE SKIP LOCKED) and writes a lease: `claimed_by` (a token unique to this one
claim) and `claimed_until` (now() + LEASE_S). While the lease holds, no one else claims the row;
the claiming step re-checks it under a short row lock before it records anything, renews it
during long work, and stops when it is lost. A worker that dies simply lets its leases run out:
`next_attempt_at` was not moved by the claim, so the row is due again for whoever comes next.

claim ─▶ (renew …) ─▶ release (due again after a delay)       lost ─▶ the step stops
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.lifecycle import Lifecycle
from service.analyses.models import Analysis, not_terminal
from service.analyses.states import HOLDS_SLOT, WORKED, AnalysisStatus, first_state
from service.db import SessionMaker

log = logging.getLogger(__name__)

#: Serialises the in-flight count and the claim of backlog rows across replicas.
SUBMISSION_LOCK = 0x5641_4C4F_5353_4101
#: Only one replica at a time sweeps for overdue analyses.
SWEEP_LOCK = 0x5641_4C4F_5353_4102
#: The channel that wakes workers: something became due now.
DUE_CHANNEL = "valossa_ingest_due"

_claim_numbers = itertools.count(1)


@dataclass(frozen=True)
class Claim:
    """One worker step's lease on one analysis."""

    analysis_id: uuid.UUID
    #: Written to `claimed_by`; unique to this claim, so two steps never mistake each other's.
    token: str
    #: The database time at which the claim was made.
    claimed_at: datetime


def _token(worker: str) -> str:
    return f"{worker}#{next(_claim_numbers)}"


def _lease_end(lease_s: float) -> object:
    return func.now() + timedelta(seconds=lease_s)


#: Where a session keeps the now() of its current transaction (see database_now).
_NOW = "valossa_ingest.database_now"


async def database_now(session: AsyncSession) -> datetime:
    """The database's now(): the start of the current transaction, the clock of every lease.

    It does not change within a transaction, so it is read once per transaction (or taken
    from a query that returned it with its rows, lock_claimed)."""
    transaction = session.sync_session.get_transaction()
    known = session.info.get(_NOW)
    if known is not None and transaction is not None and known[0] is transaction:
        found: datetime = known[1]
        return found
    now: datetime | None = await session.scalar(select(func.now()))
    assert now is not None
    remember_now(session, now)
    return now


def remember_now(session: AsyncSession, now: datetime) -> None:
    """Keep `now`, read in the current transaction, for database_now."""
    transaction = session.sync_session.get_transaction()
    if transaction is not None:
        session.info[_NOW] = (transaction, now)


async def claim_backlog(
    session: AsyncSession,
    lifecycle: Lifecycle,
    *,
    worker: str,
    max_in_flight: int,
    lease_s: float,
    submit_deadline: timedelta,
    limit: int,
) -> list[tuple[Claim, Analysis]]:
    """Move the oldest due pending analyses into free Valossa slots and claim them."""
    if limit <= 0:
        return []
    await session.execute(select(func.pg_advisory_xact_lock(SUBMISSION_LOCK)))
    used, submitting = await slots_in_use(session)
    free = min(limit, max_in_flight - used)
    if free <= 0:
        return []
    # now() comes with the rows (the clock of the leases), not in a query of its own.
    candidates = (
        await session.execute(
            select(Analysis, func.now())
            .where(not_terminal(), Analysis.status == AnalysisStatus.PENDING)
            # A source_url is downloaded first, without a slot (claim_downloads).
            .where(Analysis.video_url.is_not(None))
            .where(or_(Analysis.next_attempt_at.is_(None), Analysis.next_attempt_at <= func.now()))
            .order_by(Analysis.created_at, Analysis.id)
            .limit(free * 2)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not candidates:
        return []
    now: datetime = candidates[0][1]
    remember_now(session, now)
    claimed: list[tuple[Claim, Analysis]] = []
    for analysis, _ in candidates:
        if len(claimed) == free or analysis.customer_media_id in submitting:
            continue
        submitting.add(analysis.customer_media_id)
        target = first_state(needs_download=analysis.video_url is None)
        lifecycle.move(
            session, analysis, target, reason="a Valossa slot is free", deadline=submit_deadline
        )
        claim = Claim(analysis.id, _token(worker), now)
        _lease(analysis, claim, now, lease_s)
        analysis.next_attempt_at = now
        claimed.append((claim, analysis))
    return claimed


#: States of an analysis on its way to new_job (see submitting_media).
ON_THE_WAY = (AnalysisStatus.UPLOADING, AnalysisStatus.SUBMITTING)


async def in_flight(session: AsyncSession) -> int:
    """Analyses holding a Valossa slot now."""
    count = await session.scalar(
        select(func.count())
        .select_from(Analysis)
        .where(not_terminal(), Analysis.status.in_(HOLDS_SLOT))
    )
    return count or 0


async def slots_in_use(session: AsyncSession) -> tuple[int, set[str]]:
    """in_flight and submitting_media in one query: the slots held, and the media on their way
    to new_job (which hold a slot too)."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.array_agg(Analysis.customer_media_id).filter(Analysis.status.in_(ON_THE_WAY)),
            ).where(not_terminal(), Analysis.status.in_(HOLDS_SLOT))
        )
    ).one()
    return row[0], set(row[1] or ())


async def submitting_media(session: AsyncSession) -> set[str]:
    """Media with an analysis on its way to new_job. One submission per media at a time: a
    lost new_job answer is recovered by looking for the job by its customer media id, which
    must not be ambiguous between re-analyses. An upload is on its way to new_job too."""
    return set(
        await session.scalars(
            select(Analysis.customer_media_id).where(
                not_terminal(),
                Analysis.status.in_(ON_THE_WAY),
            )
        )
    )


#: Analyses in a worked state whose next step is due and whose lease is free, oldest due first,
#: locked; now() comes with the rows (the clock of the leases), not in a query of its own.
#: Built once: it runs in every round of every worker.
_DUE = (
    select(Analysis, func.now())
    .where(not_terminal(), Analysis.status.in_(WORKED))
    .where(Analysis.next_attempt_at <= func.now())
    .where(or_(Analysis.claimed_until.is_(None), Analysis.claimed_until < func.now()))
    .order_by(Analysis.next_attempt_at)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)


async def claim_due(
    session: AsyncSession, *, worker: str, lease_s: float, limit: int
) -> list[tuple[Claim, Analysis]]:
    """Claim analyses in a worked state whose next step is due and whose lease is free."""
    if limit <= 0:
        return []
    rows = (await session.execute(_DUE, {"limit": limit})).all()
    claimed = []
    for analysis, now in rows:
        claim = Claim(analysis.id, _token(worker), now)
        _lease(analysis, claim, now, lease_s)
        claimed.append((claim, analysis))
    if rows:
        remember_now(session, rows[0][1])
    return claimed


def claim_row(analysis: Analysis, worker: str, now: datetime, lease_s: float) -> Claim:
    """Claim a row the caller holds locked: a fresh claim token and a lease from `now`."""
    claim = Claim(analysis.id, _token(worker), now)
    _lease(analysis, claim, now, lease_s)
    return claim


def _lease(analysis: Analysis, claim: Claim, now: datetime, lease_s: float) -> None:
    analysis.claimed_by = claim.token
    analysis.claimed_until = now + timedelta(seconds=lease_s)


#: The claimed analysis under a row lock, with now(): the step records its outcome at this
#: time. Built once: every step records through it.
_CLAIMED = (
    select(Analysis, func.now())
    .where(Analysis.id == bindparam("analysis_id"), Analysis.claimed_by == bindparam("token"))
    .where(not_terminal())
    .with_for_update()
    .execution_options(populate_existing=True)
)


async def lock_claimed(session: AsyncSession, claim: Claim) -> Analysis | None:
    """The claimed analysis under a row lock, if the claim still holds; else None.

    Every step records its outcome through this: a step whose lease ran out and was taken
    over (or whose analysis was canceled or deleted meanwhile) records nothing.
    """
    row = (
        await session.execute(_CLAIMED, {"analysis_id": claim.analysis_id, "token": claim.token})
    ).one_or_none()
    if row is None:
        return None
    remember_now(session, row[1])
    analysis: Analysis = row[0]
    return analysis


#: Columns a step may report with each renewal (progress of a transfer).
Report = Callable[[], Mapping[str, int | None]]


async def renew(
    session: AsyncSession,
    claim: Claim,
    lease_s: float,
    report: Mapping[str, int | None] | None = None,
) -> bool:
    """Extend a claim that still holds for another full lease (writing the `report`ed
    columns with it); False if it was lost."""
    result = await session.execute(
        update(Analysis)
        .where(Analysis.id == claim.analysis_id, Analysis.claimed_by == claim.token)
        .where(Analysis.claimed_until > func.now())
        .where(not_terminal())
        .values(claimed_until=_lease_end(lease_s), **(report or {}))
    )
    return bool(getattr(result, "rowcount", 0))


def release(analysis: Analysis, now: datetime, *, delay_s: float) -> None:
    """End the claim; the analysis is due again `delay_s` after `now` (database time)."""
    analysis.next_attempt_at = now + timedelta(seconds=max(0.0, delay_s))
    analysis.claimed_until = None
    analysis.claimed_by = None


class LeaseLost(Exception):
    """The step's claim was taken over (or the analysis ended): it must stop at once."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(f"lease on analysis {claim.analysis_id} lost")
        self.claim = claim


@contextlib.asynccontextmanager
async def kept_alive(
    sessionmaker: SessionMaker,
    claim: Claim,
    *,
    lease_s: float,
    every_s: float | None = None,
    report: Report | None = None,
) -> AsyncIterator[None]:
    """Renew the claim every third of a lease (or `every_s`) while the block runs; if it is
    lost, cancel the block and raise LeaseLost (an upload of a worker that lost its claim must
    not go on). A cancel or delete ends the claim too, so a short `every_s` stops a transfer
    within seconds; `report` gives columns (progress) written with each renewal."""
    body = asyncio.current_task()
    assert body is not None
    lost = False

    async def beat() -> None:
        nonlocal lost
        while True:
            await asyncio.sleep(every_s or lease_s / 3)
            try:
                async with sessionmaker() as session, session.begin():
                    held = await renew(session, claim, lease_s, report() if report else None)
            except Exception as exc:  # a missed beat is retried; the lease has slack for it
                log.warning("analysis %s: lease renewal failed (%s)", claim.analysis_id, exc)
                continue
            if not held:
                lost = True
                body.cancel()
                return

    heart = asyncio.create_task(beat())
    try:
        yield
    except asyncio.CancelledError:
        if lost:
            body.uncancel()
            raise LeaseLost(claim) from None
        raise
    finally:
        heart.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heart


async def flag_overdue(session: AsyncSession, lifecycle: Lifecycle) -> list[Analysis]:
    """Mark analyses past their state's deadline (once), if no other replica is sweeping."""
    got_lock = await session.scalar(select(func.pg_try_advisory_xact_lock(SWEEP_LOCK)))
    if not got_lock:
        return []
    now = await database_now(session)
    rows = (
        await session.scalars(
            select(Analysis)
            .where(not_terminal())
            .where(Analysis.deadline_at < now)
            .where(Analysis.overdue_since.is_(None))
            .with_for_update(skip_locked=True)
        )
    ).all()
    for analysis in rows:
        analysis.overdue_since = now
        lifecycle.note(session, analysis, f"overdue: still {analysis.status} past its deadline")
        log.warning(
            "analysis %s (%s) is overdue: still %s past its deadline",
            analysis.id,
            analysis.customer_media_id,
            analysis.status,
        )
    return list(rows)


async def notify_due(session: AsyncSession) -> None:
    """Wake LISTENing workers when the transaction commits: something is due now."""
    await session.execute(text(f"NOTIFY {DUE_CHANNEL}"))
