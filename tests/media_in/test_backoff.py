"""Backoff after thousands of failures neither overflows nor exceeds its cap (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.analyses.lifecycle import Lifecycle
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import claim_due, database_now
from service.analyses.steps.outcomes import backoff_delay, retry_later
from service.db import SessionMaker
from service.settings import Settings
from tests.support.factories import insert_analysis


@pytest.mark.parametrize("attempts", [0, 1, 10, 63, 1024, 1025, 10_000, 2**40])
def test_backoff_delay_stays_under_its_cap(attempts: int) -> None:
    delay = backoff_delay(attempts, cap_s=300.0)
    assert 0 <= delay <= 300.0
    if attempts >= 12:
        assert delay >= 150.0  # capped, then jittered down by at most half


async def test_an_analysis_that_failed_thousands_of_times_is_retried_not_stuck(
    settings: Settings, sessionmaker: SessionMaker
) -> None:
    """Before the fix, `2.0 ** 1024` raised OverflowError inside retry_later and the error
    was swallowed: the analysis stayed claimed and never moved again."""
    analysis = await insert_analysis(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="j-1",
        attempts=5_000,
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    async with sessionmaker() as session, session.begin():
        (claim, _), *_ = await claim_due(session, worker="w", lease_s=60, limit=1)
    ctx = StepContext(
        settings=settings,
        sessionmaker=sessionmaker,
        valossa=None,  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        tokens=None,  # type: ignore[arg-type]
        worker="w",
        lifecycle=Lifecycle(actor="w", notify_cms=False),
    )
    await retry_later(ctx, claim, "Valossa is down")
    async with sessionmaker() as session:
        row = await session.get(type(analysis), analysis.id)
        now = await database_now(session)
    assert row is not None
    assert row.attempts == 5_001
    assert row.claimed_by is None
    assert row.next_attempt_at is not None
    assert 0 < (row.next_attempt_at - now).total_seconds() <= settings.max_backoff_s + 1
