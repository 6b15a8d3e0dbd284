"""The safety rules of the worker steps, each with a test that fails when the rule is removed."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import httpx
import psycopg
import respx
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis
from service.analyses.queries import record_callback
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import Claim, claim_due
from service.analyses.steps.outcomes import backoff_delay, fail_or_retry
from service.analyses.steps.reconcile import check_status, fetch_results
from service.analyses.steps.submission import record_job
from service.db import SessionMaker
from service.valossa import ValossaAuthError, ValossaBadRequest
from tests.support.emulator import EmulatorHandle
from tests.support.factories import analysis_row, event_reasons, insert_analysis

PAST = timedelta(seconds=-5)


async def _claimed(
    sessionmaker: SessionMaker, status: AnalysisStatus, **fields: object
) -> tuple[Claim, Analysis]:
    await insert_analysis(sessionmaker, status=status, next_attempt_at=utcnow() + PAST, **fields)
    async with sessionmaker() as session, session.begin():
        [claimed] = await claim_due(session, worker="w", lease_s=60, limit=1)
    return claimed


async def test_a_callback_during_a_status_check_makes_it_due_again_at_once(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    claim, analysis = await _claimed(
        ctx.sessionmaker, AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    # The callback arrives after the claim, while job_status is on its way.
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis).where(Analysis.id == analysis.id).values(callback_at=utcnow())
        )
    await check_status(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.claimed_by is None
    assert after.next_attempt_at is not None
    assert after.next_attempt_at <= utcnow()


async def test_without_a_callback_the_next_check_follows_valossas_hint(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    claim, analysis = await _claimed(
        ctx.sessionmaker, AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    await check_status(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.next_attempt_at is not None
    assert after.next_attempt_at > utcnow()
    assert after.status_checks == 1
    assert after.status_checked_at is not None


async def test_an_unknown_valossa_status_is_polled_again_not_failed(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, AnalysisStatus.SUBMITTED, job_id="job-x")
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(
            200,
            json={
                "status": "reticulating_splines",
                "media_transfer_status": "finished",
                "details": None,
                "poll_again_after_seconds": 30,
            },
        )
        await check_status(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.valossa_status == "reticulating_splines"
    assert after.next_attempt_at is not None
    assert after.next_attempt_at > utcnow()


async def test_a_refused_api_key_is_retried_not_failed(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, AnalysisStatus.SUBMITTING)
    refused = ValossaAuthError(
        "401", function="new_job", status_code=401, messages=("Invalid API key",)
    )
    await fail_or_retry(ctx, claim, refused, "new_job")
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTING
    assert after.attempts == 1
    assert after.error is not None
    assert "Invalid API key" in after.error


async def test_any_other_refusal_fails_the_analysis(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, AnalysisStatus.SUBMITTING)
    refused = ValossaBadRequest(
        "400", function="new_job", status_code=400, messages=("Invalid video URL",)
    )
    await fail_or_retry(ctx, claim, refused, "new_job")
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FAILED
    assert after.error == "Valossa refused new_job: Invalid video URL"


async def test_a_job_nobody_needs_any_more_is_deleted(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    """new_job answered after the analysis was canceled: the job is deleted at Valossa."""
    claim, analysis = await _claimed(ctx.sessionmaker, AnalysisStatus.SUBMITTING)
    job_id = await emulator.new_job("m")
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis)
            .where(Analysis.id == analysis.id)
            .values(status=AnalysisStatus.CANCELED, claimed_by=None, claimed_until=None)
        )
    await record_job(ctx, claim, analysis, job_id, "accepted by Valossa")
    assert job_id not in await emulator.jobs_by_id()
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).job_id is None


async def test_a_job_is_kept_when_the_analysis_still_waits_for_one(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    """Our claim ran out, but nobody recorded a job: ours is recorded, not deleted."""
    claim, analysis = await _claimed(ctx.sessionmaker, AnalysisStatus.SUBMITTING)
    job_id = await emulator.new_job("m")
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis).where(Analysis.id == analysis.id).values(claimed_by="other#1")
        )
    await record_job(ctx, claim, analysis, job_id, "accepted by Valossa")
    assert job_id in await emulator.jobs_by_id()
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.job_id == job_id
    assert after.status == AnalysisStatus.SUBMITTED


async def test_a_second_job_for_an_analysis_that_has_one_is_deleted(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    first = await emulator.new_job("m")
    claim, analysis = await _claimed(ctx.sessionmaker, AnalysisStatus.SUBMITTING)
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis)
            .where(Analysis.id == analysis.id)
            .values(status=AnalysisStatus.SUBMITTED, job_id=first)
        )
    second = await emulator.new_job("m")
    await record_job(ctx, claim, analysis, second, "accepted by Valossa")
    jobs = await emulator.jobs_by_id()
    assert first in jobs
    assert second not in jobs


async def test_results_are_downloaded_without_holding_the_row(
    ctx: StepContext, emulator: EmulatorHandle, database_url: str
) -> None:
    """While job_results streams (slowly), the analysis row can be locked by anyone else."""
    job_id = await emulator.new_job("m")
    await emulator.force(job_id, "finished")
    claim, analysis = await _claimed(
        ctx.sessionmaker, AnalysisStatus.FETCHING_RESULTS, job_id=job_id, result_types=["core"]
    )
    await emulator.configure(latency_ms=600)
    step = asyncio.create_task(fetch_results(ctx, claim, analysis))
    await asyncio.sleep(0.3)  # the step is waiting on Valossa
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(libpq) as other:
        await other.execute(
            "SELECT 1 FROM analyses WHERE id = %s FOR UPDATE NOWAIT", (analysis.id,)
        )
        await other.rollback()
    await step
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).status == AnalysisStatus.FINISHED


async def test_results_of_a_claim_lost_meanwhile_are_not_recorded(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    await emulator.force(job_id, "finished")
    claim, analysis = await _claimed(
        ctx.sessionmaker, AnalysisStatus.FETCHING_RESULTS, job_id=job_id, result_types=["core"]
    )
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis).where(Analysis.id == analysis.id).values(claimed_by="other#1")
        )
    await fetch_results(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FETCHING_RESULTS
    assert await event_reasons(ctx.sessionmaker, analysis.id) == []


def test_backoff_is_capped_and_never_overflows() -> None:
    for attempts in (1, 2, 10, 1024, 1025, 10**6):
        delay = backoff_delay(attempts, cap_s=300)
        assert 0 <= delay <= 300
    assert backoff_delay(1, cap_s=300) <= 1.0
    assert backoff_delay(10**6, cap_s=300) >= 150


async def test_the_api_key_never_reaches_an_event(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, AnalysisStatus.SUBMITTED, job_id="job-x")
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").mock(side_effect=httpx.ConnectError("refused"))
        await check_status(ctx, claim, analysis)
    reasons = " ".join(await event_reasons(sessionmaker, analysis.id))
    key = ctx.settings.valossa_api_key
    assert key is not None
    assert key.get_secret_value() not in reasons


async def test_a_callback_before_the_job_is_recorded_makes_it_due_at_once(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    """Valossa may end a job (and call back) before new_job's answer is recorded."""
    slow_polls = ctx.settings.model_copy(update={"poll_min_interval_s": 60.0})
    ctx = dataclasses.replace(ctx, settings=slow_polls)  # without a callback: a minute away
    early, early_row = await _claimed(ctx.sessionmaker, AnalysisStatus.SUBMITTING)
    quiet, quiet_row = await _claimed(ctx.sessionmaker, AnalysisStatus.SUBMITTING)
    async with ctx.sessionmaker() as session, session.begin():
        woken = await record_callback(session, early_row.id, max_wakeups=10)
    assert woken is None  # nothing to check yet: there is no job id
    for claim, row in ((early, early_row), (quiet, quiet_row)):
        await record_job(ctx, claim, row, await emulator.new_job("m"), "accepted by Valossa")
    after_callback = await analysis_row(ctx.sessionmaker, early_row.id)
    assert after_callback.status == AnalysisStatus.SUBMITTED
    assert after_callback.callback_at is not None
    assert after_callback.next_attempt_at is not None
    assert after_callback.next_attempt_at <= utcnow()
    without = await analysis_row(ctx.sessionmaker, quiet_row.id)
    assert without.callback_at is None
    assert without.next_attempt_at is not None
    assert without.next_attempt_at > utcnow()


async def test_a_callback_racing_the_recording_of_the_job_still_wakes_it(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    """The callback comes while record_job holds the row (still submitting) and commits it
    as submitted, due only at the safety-net poll: the callback must still make it due."""
    _, row = await _claimed(ctx.sessionmaker, AnalysisStatus.SUBMITTING)
    job_id = await emulator.new_job("m")

    async def callback() -> Analysis | None:
        async with ctx.sessionmaker() as session, session.begin():
            return await record_callback(session, row.id, max_wakeups=10)

    async with ctx.sessionmaker() as recorder, recorder.begin():
        await recorder.execute(select(Analysis).where(Analysis.id == row.id).with_for_update())
        arriving = asyncio.create_task(callback())
        await asyncio.sleep(0.3)
        assert not arriving.done()  # it waits for the row, as it would for record_job's
        await recorder.execute(
            update(Analysis)
            .where(Analysis.id == row.id)
            .values(
                status=AnalysisStatus.SUBMITTED,
                job_id=job_id,
                next_attempt_at=utcnow() + timedelta(hours=1),
            )
        )
    assert await arriving is not None
    after = await analysis_row(ctx.sessionmaker, row.id)
    assert after.callback_at is not None
    assert after.next_attempt_at is not None
    assert after.next_attempt_at <= utcnow()
