"""The submit step: new_job exactly once, what it sends, and how an earlier attempt's job is
adopted instead of created again (issue 10: these kill the submission module's mutants)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx
from sqlalchemy import update
from sqlalchemy.engine import make_url

from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import Claim, claim_due
from service.analyses.steps.submission import record_job, submit
from service.analyses.valossa_jobs import valossa_media_id
from service.db import SessionMaker
from service.resources import open_resources
from service.settings import Settings
from service.worker import step_context
from tests.support.emulator import EmulatorHandle
from tests.support.factories import analysis_row, event_reasons, insert_analysis

PAST = timedelta(seconds=-5)


async def _claimed(sessionmaker: SessionMaker, **fields: Any) -> tuple[Claim, Analysis]:
    """A submitting analysis, claimed by worker "w" as the worker loop would."""
    fields.setdefault("status", AnalysisStatus.SUBMITTING)
    await insert_analysis(sessionmaker, next_attempt_at=utcnow() + PAST, **fields)
    async with sessionmaker() as session, session.begin():
        [claimed] = await claim_due(session, worker="w", lease_s=60, limit=1)
    return claimed


async def _due_again(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> tuple[Claim, Analysis]:
    """Make a released analysis due now and claim it again."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis)
            .where(Analysis.id == analysis_id)
            .values(next_attempt_at=utcnow() + PAST)
        )
    async with sessionmaker() as session, session.begin():
        [claimed] = await claim_due(session, worker="w", lease_s=60, limit=1)
    return claimed


async def test_submit_creates_one_job_named_by_this_attempt(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-7")
    before = utcnow()
    await submit(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    [job] = await emulator.jobs()
    assert job["customer_media_id"] == valossa_media_id("cms-7", analysis.id, 1)
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.job_id == job["job_id"]
    assert after.submit_attempts == 1
    assert (after.attempts, after.error) == (0, None)
    assert (after.claimed_by, after.claimed_until) == (None, None)
    # The first job_status waits the shortest poll interval (no callbacks trusted yet).
    first_check = timedelta(seconds=ctx.settings.poll_min_interval_s)
    assert after.poll_hint_at is not None
    assert after.next_attempt_at == after.poll_hint_at
    assert before + first_check - timedelta(seconds=1) < after.poll_hint_at
    assert after.poll_hint_at < utcnow() + first_check
    assert after.deadline_at is not None
    assert after.deadline_at > utcnow() + timedelta(seconds=ctx.settings.analysis_deadline_s - 60)
    assert await event_reasons(ctx.sessionmaker, analysis.id) == [
        f"accepted by Valossa (job {job['job_id']})"
    ]


async def test_new_job_carries_the_media_the_parameters_and_our_callback(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        customer_media_id="cms-8",
        video_url="https://media.example/v.mp4",
        transcript_url="https://media.example/v.srt",
        title="A title",
        description="A description",
        language="fi-FI",
        face_gallery_id="gallery-1",
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        new_job = valossa.post("/core/1.0/new_job").respond(200, json={"job_id": "job-8"})
        await submit(ctx, claim, analysis)
    body = json.loads(new_job.calls.last.request.content)
    body.pop("api_key", None)
    assert body == {
        "media": {
            "video": {"url": "https://media.example/v.mp4"},
            "transcript": {"url": "https://media.example/v.srt"},
            "title": "A title",
            "description": "A description",
            "customer_media_info": {"id": valossa_media_id("cms-8", analysis.id, 1)},
            "language": "fi-FI",
        },
        "analysis_parameters": {"face_galleries": {"custom_gallery": {"id": "gallery-1"}}},
        "callback": {"url": ctx.callback_url(analysis.id)},
    }
    assert (await analysis_row(sessionmaker, analysis.id)).job_id == "job-8"


async def test_new_job_without_optional_fields_sends_none_of_them(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, customer_media_id="cms-9")
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        new_job = valossa.post("/core/1.0/new_job").respond(200, json={"job_id": "job-9"})
        await submit(ctx, claim, analysis)
    body = json.loads(new_job.calls.last.request.content)
    assert body["media"] == {
        "video": {"url": "https://media.example/v.mp4"},
        "customer_media_info": {"id": valossa_media_id("cms-9", analysis.id, 1)},
        "language": "en-US",
    }
    assert "analysis_parameters" not in body


async def test_an_earlier_attempts_job_is_adopted_not_created_again(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-1", submit_attempts=1)
    earlier = await emulator.new_job(valossa_media_id("cms-1", analysis.id, 1))
    await submit(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert list(await emulator.jobs_by_id()) == [earlier]
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.job_id == earlier
    assert after.submit_attempts == 1  # no new_job, so no new attempt
    assert await event_reasons(ctx.sessionmaker, analysis.id) == [
        f"adopted: found with list_jobs (job {earlier})"
    ]


async def test_of_two_attempts_that_both_got_through_the_first_is_kept(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-2", submit_attempts=3)
    second = await emulator.new_job(valossa_media_id("cms-2", analysis.id, 2))
    first = await emulator.new_job(valossa_media_id("cms-2", analysis.id, 1))
    third = await emulator.new_job(valossa_media_id("cms-2", analysis.id, 3))
    # Another analysis of the same media, and another media: neither is ours to touch.
    other_analysis = await emulator.new_job(valossa_media_id("cms-2", uuid.uuid4(), 1))
    other_media = await emulator.new_job("cms-3")
    await submit(ctx, claim, analysis)
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).job_id == first
    assert set(await emulator.jobs_by_id()) == {first, other_analysis, other_media}
    assert second != third


async def test_without_an_earlier_job_the_next_attempt_gets_its_own_id(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-4", submit_attempts=1)
    await submit(ctx, claim, analysis)
    [job] = await emulator.jobs()
    assert job["customer_media_id"] == valossa_media_id("cms-4", analysis.id, 2)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.submit_attempts == 2
    assert after.job_id == job["job_id"]


async def test_a_lost_new_job_answer_is_retried_and_the_job_adopted(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    """Valossa made the job but its answer never came: exactly one job in the end."""
    claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-5")
    await emulator.configure(lost_response_rate=1.0)
    await submit(ctx, claim, analysis)
    await emulator.configure(lost_response_rate=0.0)
    retried = await analysis_row(ctx.sessionmaker, analysis.id)
    assert retried.status == AnalysisStatus.SUBMITTING
    assert retried.attempts == 1
    assert retried.error is not None
    assert retried.error.startswith("new_job failed: ")
    assert retried.claimed_by is None
    [job] = await emulator.jobs()
    claim, analysis = await _due_again(ctx.sessionmaker, analysis.id)
    await submit(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert list(await emulator.jobs_by_id()) == [job["job_id"]]
    assert after.job_id == job["job_id"]
    assert after.status == AnalysisStatus.SUBMITTED


async def test_a_new_job_we_stopped_waiting_for_is_given_time_to_land(
    wired: Settings, emulator: EmulatorHandle
) -> None:
    """A timed-out new_job may still create the job: the next attempt waits a Valossa
    timeout before it looks for it, so that it finds the job instead of making another."""
    quick = wired.model_copy(update={"lease_s": 0.4, "valossa_timeout_s": 5.0})
    async with open_resources(quick) as resources:
        ctx = step_context(resources, "w")
        claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-6")
        await emulator.configure(latency_ms=400)  # longer than lease_s / 2
        await submit(ctx, claim, analysis)
        await emulator.configure(latency_ms=0)
        after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTING
    assert after.error is not None
    assert after.error.startswith("new_job failed: ")
    assert after.next_attempt_at is not None
    assert after.next_attempt_at > utcnow() + timedelta(seconds=4)


async def test_a_transport_failure_that_surely_did_not_land_is_retried_soon(
    wired: Settings,
) -> None:
    """A refused connection never reached Valossa: the retry follows the backoff alone."""
    quick = wired.model_copy(update={"max_backoff_s": 0.2})
    async with open_resources(quick) as resources:
        ctx = step_context(resources, "w")
        claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-10")
        with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
            valossa.post("/core/1.0/new_job").mock(side_effect=httpx.ConnectError("refused"))
            await submit(ctx, claim, analysis)
        after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTING
    assert after.error == "new_job failed: new_job: ConnectError: refused"
    assert after.next_attempt_at is not None
    assert after.updated_at is not None
    # The backoff (at most 0.2 s here) after the moment the retry was recorded.
    assert after.next_attempt_at - after.updated_at < timedelta(seconds=0.5)


async def test_a_refused_new_job_fails_the_analysis(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, customer_media_id="cms-11")
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.post("/core/1.0/new_job").respond(
            400, json={"errors": [{"message": "Invalid video URL"}]}
        )
        await submit(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FAILED
    assert after.error == "Valossa refused new_job: Invalid video URL"
    assert after.submit_attempts == 1


async def test_a_claim_lost_before_new_job_submits_nothing(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-12")
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis).where(Analysis.id == analysis.id).values(claimed_by="other#1")
        )
    await submit(ctx, claim, analysis)
    assert await emulator.jobs() == []
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).submit_attempts == 0


async def test_the_submit_attempt_is_recorded_with_a_lease_that_outlives_new_job(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    """The intent is committed before new_job, with a fresh full lease on the row."""
    claim, analysis = await _claimed(sessionmaker, customer_media_id="cms-13")
    seen: dict[str, Any] = {}

    async def answer(request: httpx.Request) -> httpx.Response:
        row = await analysis_row(sessionmaker, analysis.id)
        seen.update(attempts=row.submit_attempts, until=row.claimed_until, by=row.claimed_by)
        return httpx.Response(200, json={"job_id": "job-13"})

    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.post("/core/1.0/new_job").mock(side_effect=answer)
        await submit(ctx, claim, analysis)
    assert seen["attempts"] == 1
    assert seen["by"] == claim.token
    lease = timedelta(seconds=ctx.settings.lease_s)
    assert utcnow() + lease - timedelta(seconds=5) < seen["until"] <= utcnow() + lease


def _listed(customer_media_ids: list[str]) -> dict[str, Any]:
    return {
        "jobs": [
            {"job_id": f"job-{n}", "customer_media_id": cm}
            for n, cm in enumerate(customer_media_ids)
        ]
    }


async def test_beyond_what_list_jobs_shows_each_attempt_is_looked_up_by_its_id(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, customer_media_id="cms-14", submit_attempts=2)
    full = _listed([f"someone-else-{n}" for n in range(10_000)])
    first, second = (valossa_media_id("cms-14", analysis.id, n) for n in (1, 2))
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/list_jobs").respond(200, json=full)
        valossa.get("/core/1.0/job_status", params={"customer_media_id": first}).respond(
            404, json={"errors": [{"message": "Job not found"}]}
        )
        valossa.get("/core/1.0/job_status", params={"customer_media_id": second}).respond(
            200,
            json={
                "status": "queued",
                "media_transfer_status": "queued",
                "details": None,
                "poll_again_after_seconds": 30,
                "job_id": "job-of-attempt-2",
            },
        )
        await submit(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.job_id == "job-of-attempt-2"
    assert after.status == AnalysisStatus.SUBMITTED


@pytest.mark.parametrize("job_id", [{}, {"job_id": None}, {"job_id": ""}, {"job_id": 12345}])
async def test_a_job_found_without_a_job_id_is_not_submitted_again(
    ctx: StepContext, sessionmaker: SessionMaker, job_id: dict[str, Any]
) -> None:
    claim, analysis = await _claimed(sessionmaker, customer_media_id="cms-15", submit_attempts=1)
    full = _listed([f"someone-else-{n}" for n in range(10_000)])
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/list_jobs").respond(200, json=full)
        valossa.get("/core/1.0/job_status").respond(
            200,
            json={
                "status": "queued",
                "media_transfer_status": "queued",
                "details": None,
                "poll_again_after_seconds": 30,
                **job_id,
            },
        )
        await submit(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FAILED
    marker = valossa_media_id("cms-15", analysis.id, 1)
    assert after.error == (
        f"Valossa has the job of an earlier attempt (customer media id {marker!r}) but "
        "reports no job id for it; not submitting again. Check the job in Valossa Portal."
    )


async def test_beyond_list_jobs_with_no_attempt_found_a_new_job_is_made(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, customer_media_id="cms-16", submit_attempts=1)
    full = _listed([f"someone-else-{n}" for n in range(10_000)])
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/list_jobs").respond(200, json=full)
        # Only the earlier attempt's id is looked up (any other lookup is not mocked).
        lookup = valossa.get(
            "/core/1.0/job_status",
            params={"customer_media_id": valossa_media_id("cms-16", analysis.id, 1)},
        ).respond(404, json={"errors": [{"message": "Job not found"}]})
        new_job = valossa.post("/core/1.0/new_job").respond(200, json={"job_id": "job-16"})
        await submit(ctx, claim, analysis)
    assert lookup.call_count == 1
    assert new_job.called
    assert (await analysis_row(sessionmaker, analysis.id)).job_id == "job-16"


async def test_a_failed_look_for_the_earlier_job_is_retried(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, customer_media_id="cms-17", submit_attempts=1)
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/list_jobs").mock(side_effect=httpx.ConnectError("refused"))
        await submit(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTING
    assert after.error is not None
    assert after.error.startswith("looking for an earlier attempt's job failed: ")


async def test_a_cancel_committed_while_a_job_is_recorded_wins(
    ctx: StepContext, emulator: EmulatorHandle, database_url: str
) -> None:
    """record_job reads the row under a lock: it waits for a cancel in progress, sees it, and
    deletes the job instead of overwriting the cancel."""
    claim, analysis = await _claimed(ctx.sessionmaker, customer_media_id="cms-18")
    job_id = await emulator.new_job("m")
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(libpq) as cancel:
        await cancel.execute(
            "UPDATE analyses SET status = 'canceled', claimed_by = NULL, claimed_until = NULL "
            "WHERE id = %s",
            (analysis.id,),
        )
        recording = asyncio.create_task(
            record_job(ctx, claim, analysis, job_id, "accepted by Valossa")
        )
        await asyncio.sleep(0.3)
        assert not recording.done()
        await cancel.commit()
    await recording
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.CANCELED
    assert after.job_id is None
    assert job_id not in await emulator.jobs_by_id()
