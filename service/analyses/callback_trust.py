"""Whether Valossa's callbacks reach this deployment, measured over the jobs that ended last.

Valossa calls back when a job ends (and retries once), but documents that callbacks may be
lost. While they arrive, a submitted analysis needs no polling but a rare safety net
(CALLBACK_SAFETY_POLL_S): the callback makes it due, and one job_status confirms. When they
stop arriving (the jobs that ended were found by polling, not announced), every analysis falls
back at once to Valossa's own poll_again_after_seconds schedule (kept in `poll_hint_at`).
A callback that lands after polling found the job's end still counts (flows/callback.py notes
it): on Valossa's schedule the poll often comes first, and trust must be able to come back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus

#: How many of the latest ended jobs are looked at, and within what time.
RECENT_JOBS = 20
RECENT_WINDOW = timedelta(hours=6)
#: Fewer ended jobs than this: too little to trust callbacks.
MIN_JOBS = 5
#: The share of them whose end a callback announced, for callbacks to be trusted.
TRUSTED_SHARE = 0.9
#: Valossa statuses of a job that ended (by the verdict of job_status).
ENDED = ("finished", "error")


@dataclass(frozen=True)
class CallbackHealth:
    """Of the latest jobs that ended, how many there were and how many a callback announced."""

    ended: int
    announced: int

    @property
    def trusted(self) -> bool:
        """True while callbacks reliably announce the end of jobs."""
        return self.ended >= MIN_JOBS and self.announced >= TRUSTED_SHARE * self.ended

    @property
    def announced_share(self) -> float:
        return self.announced / self.ended if self.ended else 0.0


async def read_callback_health(session: AsyncSession) -> CallbackHealth:
    """Count the latest ended jobs and those a callback announced (an index-backed query)."""
    latest = (
        select(Analysis.callback_at)
        .where(Analysis.valossa_status.in_(ENDED))
        .where(Analysis.status_checked_at > func.now() - RECENT_WINDOW)
        .order_by(Analysis.status_checked_at.desc())
        .limit(RECENT_JOBS)
        .subquery()
    )
    ended, announced = (
        await session.execute(select(func.count(), func.count(latest.c.callback_at)))
    ).one()
    return CallbackHealth(int(ended), int(announced))


async def fall_back_to_polling(session: AsyncSession) -> int:
    """Make every submitted analysis due no later than Valossa's own hint; how many moved."""
    result = await session.execute(
        update(Analysis)
        .where(Analysis.status == AnalysisStatus.SUBMITTED)
        .where(Analysis.poll_hint_at.is_not(None))
        .where(Analysis.next_attempt_at > Analysis.poll_hint_at)
        .values(next_attempt_at=Analysis.poll_hint_at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class CallbackTrust:
    """A worker's view of CallbackHealth, read at most every `ttl_s` seconds."""

    def __init__(self, *, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._health: CallbackHealth | None = None
        self._read_at = 0.0

    async def health(self, session: AsyncSession) -> CallbackHealth:
        """The current health (cached for `ttl_s`)."""
        if self._health is None or time.monotonic() - self._read_at > self.ttl_s:
            self._health = await read_callback_health(session)
            self._read_at = time.monotonic()
        return self._health

    async def trusted(self, session: AsyncSession) -> bool:
        """True while callbacks are trusted."""
        return (await self.health(session)).trusted
