"""Fewer Valossa calls and quicker wake-ups: trusted callbacks, transcripts only when there
is speech, a new analysis that wakes a worker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import psycopg
from sqlalchemy.engine import make_url

from service.analyses.callback_trust import (
    MIN_JOBS,
    RECENT_JOBS,
    CallbackTrust,
    fall_back_to_polling,
    read_callback_health,
)
from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import claim_due
from service.analyses.steps.reconcile import check_status
from service.analyses.tokens import CallbackTokens
from service.db import SessionMaker
from service.resources import open_resources
from service.settings import Settings
from service.worker import Worker
from tests.support.api import api_client
from tests.support.emulator import EmulatorHandle
from tests.support.factories import insert_analysis


async def _ended(sessionmaker: SessionMaker, n: int, *, announced: bool) -> None:
    """`n` analyses whose Valossa job ended, announced by a callback or found by polling."""
    for _ in range(n):
        await insert_analysis(
            sessionmaker,
            customer_media_id=f"ended-{uuid.uuid4().hex[:6]}",
            status=AnalysisStatus.FINISHED,
            valossa_status="finished",
            status_checked_at=utcnow(),
            callback_at=utcnow() if announced else None,
        )


async def _health_trusted(sessionmaker: SessionMaker) -> bool:
    async with sessionmaker() as session:
        return (await read_callback_health(session)).trusted


async def test_callbacks_are_trusted_once_they_announce_the_jobs_that_end(
    sessionmaker: SessionMaker,
) -> None:
    assert not await _health_trusted(sessionmaker)  # nothing seen yet
    await _ended(sessionmaker, MIN_JOBS - 1, announced=True)
    assert not await _health_trusted(sessionmaker)  # too few to tell
    await _ended(sessionmaker, 1, announced=True)
    assert await _health_trusted(sessionmaker)
    # Callbacks stop: the jobs that end now are found by polling. Trust goes at once.
    await _ended(sessionmaker, 3, announced=False)
    assert not await _health_trusted(sessionmaker)
    # And comes back when callbacks announce the latest jobs again.
    await _ended(sessionmaker, RECENT_JOBS, announced=True)
    assert await _health_trusted(sessionmaker)


async def _checked(ctx: StepContext, emulator: EmulatorHandle) -> Analysis:
    """One status check of a queued job (Valossa suggests its next poll) by a fresh worker."""
    job_id = await emulator.new_job("m")
    await insert_analysis(
        ctx.sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id=job_id,
        valossa_status="queued",
        next_attempt_at=utcnow() - timedelta(seconds=1),
    )
    async with ctx.sessionmaker() as session, session.begin():
        [(claim, analysis)] = await claim_due(session, worker="w", lease_s=60, limit=1)
    fresh = StepContext(**{**ctx.__dict__, "callback_trust": CallbackTrust()})
    await check_status(fresh, claim, analysis)
    async with ctx.sessionmaker() as session:
        row = await session.get(Analysis, analysis.id)
    assert row is not None
    return row


async def test_trusted_callbacks_leave_only_a_safety_net_poll(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    await _ended(ctx.sessionmaker, MIN_JOBS, announced=True)
    row = await _checked(ctx, emulator)
    assert row.poll_hint_at is not None
    assert row.next_attempt_at is not None
    safety = timedelta(seconds=ctx.settings.callback_safety_poll_s)
    assert row.next_attempt_at - row.poll_hint_at > safety / 2  # not Valossa's short hint
    assert row.next_attempt_at > utcnow() + safety * 0.9


async def test_without_trusted_callbacks_polling_follows_valossa(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    await _ended(ctx.sessionmaker, MIN_JOBS, announced=False)
    row = await _checked(ctx, emulator)
    assert row.next_attempt_at == row.poll_hint_at
    assert row.next_attempt_at is not None
    # At most POLL_MAX_INTERVAL_S (+10 % jitter) away: far from the 900 s safety net.
    most = ctx.settings.poll_max_interval_s * 1.1
    assert row.next_attempt_at < utcnow() + timedelta(seconds=most)


async def test_when_callbacks_stop_everything_falls_back_to_valossas_schedule(
    sessionmaker: SessionMaker,
) -> None:
    hint = utcnow() + timedelta(seconds=30)
    waiting = await insert_analysis(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-w",
        poll_hint_at=hint,
        next_attempt_at=utcnow() + timedelta(minutes=15),  # the safety net while trusted
    )
    async with sessionmaker() as session, session.begin():
        assert await fall_back_to_polling(session) == 1
    async with sessionmaker() as session:
        row = await session.get(Analysis, waiting.id)
        assert row is not None
        assert row.next_attempt_at == hint
    async with sessionmaker() as session, session.begin():
        assert await fall_back_to_polling(session) == 0  # already on Valossa's schedule


async def test_a_worker_falls_back_as_soon_as_callbacks_are_not_trusted(
    ctx: StepContext, settings: Settings
) -> None:
    hint = utcnow() + timedelta(seconds=30)
    waiting = await insert_analysis(
        ctx.sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-w",
        poll_hint_at=hint,
        next_attempt_at=utcnow() + timedelta(minutes=15),
    )
    await _ended(ctx.sessionmaker, MIN_JOBS, announced=False)
    async with open_resources(settings) as resources:
        await Worker(resources, name="w2").look_for_work()
    async with ctx.sessionmaker() as session:
        row = await session.get(Analysis, waiting.id)
        assert row is not None
        assert row.next_attempt_at == hint


async def test_a_new_analysis_wakes_the_workers(settings: Settings, database_url: str) -> None:
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with (
        await psycopg.AsyncConnection.connect(libpq, autocommit=True) as listener,
        api_client(settings) as api,
    ):
        await listener.execute("LISTEN valossa_ingest_due")
        response = await api.post(
            "/v1/analyses",
            json={"customer_media_id": "m-1", "video_url": "https://cdn.example/v.mp4"},
            headers={"Authorization": "Bearer test-token"},
        )
        assert response.status_code == 202
        notification = await asyncio.wait_for(anext(listener.notifies()), timeout=5)
    assert notification.channel == "valossa_ingest_due"


async def test_a_callback_that_polling_beat_still_counts_as_announced(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    """Polling on Valossa's schedule often sees a job finished just before its callback lands;
    that callback still shows callbacks work, or trust, once lost, could never come back."""
    tokens = CallbackTokens("test-signing-secret")  # the secret of the `settings` fixture
    found_by_polling = [
        await insert_analysis(
            sessionmaker,
            customer_media_id=f"polled-{n}",
            status=AnalysisStatus.FETCHING_RESULTS if n == 0 else AnalysisStatus.FINISHED,
            job_id=f"job-{n}",
            valossa_status="finished",
            status_checked_at=utcnow(),
        )
        for n in range(MIN_JOBS)
    ]
    assert not await _health_trusted(sessionmaker)
    for analysis in found_by_polling:
        response = await app_client.post(
            f"/callbacks/valossa/{tokens.token_for(analysis.id)}",
            json={"job_id": analysis.job_id, "status": "finished"},
        )
        assert response.status_code == 200
    assert await _health_trusted(sessionmaker)
    async with sessionmaker() as session:
        rows = [await session.get(Analysis, analysis.id) for analysis in found_by_polling]
    assert [row.status for row in rows if row is not None] == [
        analysis.status for analysis in found_by_polling
    ]  # noted, nothing else: the analyses go on as they were
    first = rows[0]
    assert first is not None
    assert first.callback_at is not None
    # Valossa's retry of the same callback changes nothing more.
    await app_client.post(f"/callbacks/valossa/{tokens.token_for(first.id)}", json={})
    async with sessionmaker() as session:
        again = await session.get(Analysis, first.id)
    assert again is not None
    assert again.callback_at == first.callback_at
