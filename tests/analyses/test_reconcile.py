"""The reconcile steps: what a job_status answer does to an analysis (a pending cancel, a
failure's reason), when transcripts are asked for, and how polls are spaced (issue 10: these
kill the reconcile module's mutants)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from service.analyses.lifecycle import Lifecycle, utcnow
from service.analyses.models import Analysis, StoredResult
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import Claim, claim_due
from service.analyses.steps.reconcile import NO_SPEECH, check_status, fetch_results, poll_delay
from service.db import SessionMaker
from service.webhooks.models import Webhook
from tests.support.emulator import EmulatorHandle
from tests.support.factories import analysis_row, event_reasons, insert_analysis

PAST = timedelta(seconds=-5)


async def _claimed(sessionmaker: SessionMaker, **fields: Any) -> tuple[Claim, Analysis]:
    await insert_analysis(sessionmaker, next_attempt_at=utcnow() + PAST, **fields)
    async with sessionmaker() as session, session.begin():
        [claimed] = await claim_due(session, worker="w", lease_s=60, limit=1)
    return claimed


def _status(status: str, **fields: Any) -> dict[str, Any]:
    """A job_status answer."""
    return {
        "status": status,
        "media_transfer_status": "finished",
        "details": None,
        "poll_again_after_seconds": 30,
        **fields,
    }


# --- poll_delay ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suggested", "expected"),
    [
        (None, 4.0),  # no suggestion: four times the shortest interval
        (50, 50.0),
        (0, 1.0),  # never below the shortest interval
        (5000, 100.0),  # nor above the longest
    ],
)
def test_poll_delay_follows_valossa_within_our_bounds(
    suggested: int | None, expected: float
) -> None:
    for _ in range(50):
        delay = poll_delay(suggested, min_s=1.0, max_s=100.0)
        assert expected * 0.9 <= delay <= expected * 1.1


# --- check_status with a pending cancel -------------------------------------------------------


async def test_a_pending_cancel_of_a_waiting_job_is_asked_again_and_confirmed(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    claim, analysis = await _claimed(
        ctx.sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id=job_id,
        valossa_status="queued",
        cancel_requested_at=utcnow(),
    )
    await check_status(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.CANCELED
    assert (await emulator.jobs_by_id())[job_id]["status"] == "canceled"
    assert await event_reasons(ctx.sessionmaker, analysis.id) == ["canceled at Valossa"]


async def test_a_pending_cancel_of_a_job_being_analysed_lets_it_run_to_its_end(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    await emulator.force(job_id, "processing")
    claim, analysis = await _claimed(
        ctx.sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id=job_id,
        valossa_status="queued",
        cancel_requested_at=utcnow(),
    )
    await check_status(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.cancel_requested_at is None
    assert after.claimed_by is None
    assert (await emulator.jobs_by_id())[job_id]["status"] == "processing"
    assert await event_reasons(ctx.sessionmaker, analysis.id) == [
        "Valossa began the analysis (processing) before the cancel took effect; it runs to its end",
        "Valossa status: processing",
    ]


@pytest.mark.parametrize(
    ("valossa", "ours"),
    [("finished", AnalysisStatus.FETCHING_RESULTS), ("error", AnalysisStatus.CANCELED)],
)
async def test_a_pending_cancel_of_a_job_that_ended(
    ctx: StepContext, emulator: EmulatorHandle, valossa: str, ours: AnalysisStatus
) -> None:
    """Finished: its results are kept. Ended any other way: the cancel is done."""
    job_id = await emulator.new_job("m")
    await emulator.force(job_id, valossa)
    claim, analysis = await _claimed(
        ctx.sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id=job_id,
        valossa_status="processing",
        cancel_requested_at=utcnow(),
    )
    await check_status(ctx, claim, analysis)
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).status == ours


async def test_a_refused_cancel_lets_the_job_run_to_its_end(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-c",
        valossa_status="queued",
        cancel_requested_at=utcnow(),
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(200, json=_status("queued"))
        valossa.post("/core/1.0/cancel_job").respond(
            400, json={"errors": [{"message": "Job cannot be canceled now"}]}
        )
        await check_status(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.cancel_requested_at is None
    assert await event_reasons(sessionmaker, analysis.id) == [
        "Valossa refused the cancel: Job cannot be canceled now; it runs to its end"
    ]


async def test_a_cancel_of_a_job_valossa_no_longer_has_is_done(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-g",
        valossa_status="queued",
        cancel_requested_at=utcnow(),
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(200, json=_status("queued"))
        valossa.post("/core/1.0/cancel_job").respond(
            404, json={"errors": [{"message": "Job not found"}]}
        )
        await check_status(ctx, claim, analysis)
    assert (await analysis_row(sessionmaker, analysis.id)).status == AnalysisStatus.CANCELED


async def test_an_unanswered_cancel_is_asked_again_later(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    requested = utcnow()
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-u",
        valossa_status="queued",
        cancel_requested_at=requested,
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(200, json=_status("queued"))
        cancel = valossa.post("/core/1.0/cancel_job").mock(
            side_effect=httpx.ConnectError("refused")
        )
        await check_status(ctx, claim, analysis)
    assert cancel.called
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.cancel_requested_at == requested
    assert after.next_attempt_at is not None
    assert after.next_attempt_at > utcnow()
    assert await event_reasons(sessionmaker, analysis.id) == []  # still queued: nothing new


async def test_without_a_pending_cancel_a_waiting_job_is_not_canceled(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    claim, analysis = await _claimed(
        ctx.sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    await check_status(ctx, claim, analysis)
    assert (await emulator.jobs_by_id())[job_id]["status"] == "queued"
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).status == AnalysisStatus.SUBMITTED


# --- check_status: what the answer records ----------------------------------------------------


async def test_a_status_check_records_valossas_answer(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-s",
        valossa_status="queued",
        attempts=3,
        error="an earlier transient error",
        status_checks=4,
    )
    answer = _status(
        "processing", media_transfer_status="finished", details="50 %", poll_again_after_seconds=1
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(200, json=answer)
        await check_status(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.valossa_status == "processing"
    assert after.media_transfer_status == "finished"
    assert after.valossa_details == "50 %"
    assert (after.status_checks, after.attempts, after.error) == (5, 0, None)
    assert after.claimed_by is None
    assert await event_reasons(sessionmaker, analysis.id) == ["Valossa status: processing"]
    # Valossa's 1 s, within the test bounds (0.1 .. 2 s), with jitter.
    assert after.poll_hint_at is not None
    assert after.status_checked_at is not None
    hint = (after.poll_hint_at - after.status_checked_at).total_seconds()
    assert 0.9 <= hint <= 1.1


async def test_an_unchanged_status_writes_no_event(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    claim, analysis = await _claimed(
        ctx.sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    await check_status(ctx, claim, analysis)
    assert await event_reasons(ctx.sessionmaker, analysis.id) == []


async def test_a_finished_job_is_due_for_its_results_at_once(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    await emulator.force(job_id, "finished")
    claim, analysis = await _claimed(
        ctx.sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    before = utcnow()
    await check_status(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FETCHING_RESULTS
    assert after.claimed_by is None
    assert after.next_attempt_at is not None
    assert after.next_attempt_at <= before + timedelta(seconds=1)
    assert await event_reasons(ctx.sessionmaker, analysis.id) == ["Valossa finished"]


async def test_a_job_valossa_forgot_fails_the_analysis(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    claim, analysis = await _claimed(
        ctx.sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="no-such-job"
    )
    await check_status(ctx, claim, analysis)
    after = await analysis_row(ctx.sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FAILED
    assert after.error == "Valossa no longer knows job no-such-job"


async def test_a_failed_status_check_is_retried(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j")
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").mock(side_effect=httpx.ConnectError("refused"))
        await check_status(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.attempts == 1
    assert after.error == "job_status failed: job_status: ConnectError: refused"


async def test_a_status_check_of_a_lost_claim_records_nothing(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j")
    stranger = Claim(analysis.id, "other#1", claim.claimed_at)
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(200, json=_status("finished"))
        await check_status(ctx, stranger, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.SUBMITTED
    assert after.status_checks == 0


# --- why a job failed -------------------------------------------------------------------------


async def test_a_failed_job_keeps_valossas_details(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j")
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(
            200, json=_status("error", details="Unsupported codec")
        )
        await check_status(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FAILED
    assert after.error == "Unsupported codec"


async def test_a_failed_job_without_details_says_so(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j")
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(200, json=_status("error"))
        await check_status(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.error == "Valossa reported an error without details"


async def test_a_failed_transfer_names_our_source_not_the_uploaded_file(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="j",
        source_url="https://cms.example/video.mp4?signature=secret",
        video_url="upload://u-123",
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(
            200,
            json=_status(
                "error",
                media_transfer_status="error",
                details="Could not read upload://u-123",
            ),
        )
        await check_status(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FAILED
    assert after.error == "media transfer failed: Could not read https://cms.example/video.mp4"


async def test_a_job_canceled_at_valossa_cancels_the_analysis(
    ctx: StepContext, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("m")
    await emulator.valossa.cancel_job(job_id=job_id)
    claim, analysis = await _claimed(
        ctx.sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    await check_status(ctx, claim, analysis)
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).status == AnalysisStatus.CANCELED
    assert await event_reasons(ctx.sessionmaker, analysis.id) == ["canceled at Valossa"]


# --- fetch_results: which transcripts are asked for -------------------------------------------

SILENT_CORE = {"detections": {"1": {"t": "visual.context"}}}
SPEAKING_CORE = {"detections": {"1": {"t": "audio.speech"}}}
SRT = "1\n00:00:00,000 --> 00:00:01,000\nhello\n"


async def _stored(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> dict[str, str | None]:
    """Stored result types: None if stored, else the reason it is absent."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(StoredResult).where(StoredResult.analysis_id == analysis_id)
        )
        return {row.result_type: row.absent_reason for row in rows}


async def _fetch(
    ctx: StepContext, core: dict[str, Any], *, explicit: bool
) -> tuple[uuid.UUID, bool]:
    """fetch_results of core + an SRT transcript; whether the transcript was asked for."""
    claim, analysis = await _claimed(
        ctx.sessionmaker,
        status=AnalysisStatus.FETCHING_RESULTS,
        job_id="job-r",
        result_types=["speech_to_text_srt", "core"],
        result_types_explicit=explicit,
    )
    # Not every route is called: whether the transcript is asked for is what is tested.
    with respx.mock(base_url=ctx.settings.valossa_base_url, assert_all_called=False) as valossa:
        valossa.get("/core/1.0/job_results", params={"type": "core"}).respond(200, json=core)
        srt = valossa.get("/core/1.0/job_results", params={"type": "speech_to_text_srt"}).respond(
            200, text=SRT
        )
        await fetch_results(ctx, claim, analysis)
    assert (await analysis_row(ctx.sessionmaker, analysis.id)).status == AnalysisStatus.FINISHED
    return analysis.id, srt.called


async def test_no_transcript_is_asked_for_when_core_shows_no_speech(ctx: StepContext) -> None:
    analysis_id, asked = await _fetch(ctx, SILENT_CORE, explicit=False)
    assert not asked
    assert await _stored(ctx.sessionmaker, analysis_id) == {
        "core": None,
        "speech_to_text_srt": NO_SPEECH,
    }
    assert await event_reasons(ctx.sessionmaker, analysis_id) == [
        "stored core; Valossa has no speech_to_text_srt"
    ]


async def test_a_transcript_is_asked_for_when_core_shows_speech(ctx: StepContext) -> None:
    analysis_id, asked = await _fetch(ctx, SPEAKING_CORE, explicit=False)
    assert asked
    assert await _stored(ctx.sessionmaker, analysis_id) == {
        "core": None,
        "speech_to_text_srt": None,
    }
    assert await event_reasons(ctx.sessionmaker, analysis_id) == ["stored core, speech_to_text_srt"]


async def test_a_transcript_the_cms_named_is_asked_for_even_without_speech(
    ctx: StepContext,
) -> None:
    _, asked = await _fetch(ctx, SILENT_CORE, explicit=True)
    assert asked


async def test_a_result_valossa_does_not_have_is_recorded_as_absent(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.FETCHING_RESULTS,
        job_id="job-a",
        result_types=["core", "speech_to_text_srt"],
        result_types_explicit=True,
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_results", params={"type": "core"}).respond(200, json=SILENT_CORE)
        valossa.get("/core/1.0/job_results", params={"type": "speech_to_text_srt"}).respond(
            400, json={"errors": [{"message": "No such result"}]}
        )
        await fetch_results(ctx, claim, analysis)
    assert await _stored(sessionmaker, analysis.id) == {
        "core": None,
        "speech_to_text_srt": "No such result",
    }
    assert (await analysis_row(sessionmaker, analysis.id)).status == AnalysisStatus.FINISHED


async def test_without_core_the_analysis_fails(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker, status=AnalysisStatus.FETCHING_RESULTS, job_id="job-n"
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_results").respond(
            400, json={"errors": [{"message": "No such result"}]}
        )
        await fetch_results(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FAILED
    assert after.error == "Valossa refused job_results: No such result"


async def test_a_failed_download_of_results_is_retried(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker, status=AnalysisStatus.FETCHING_RESULTS, job_id="job-f"
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_results").mock(side_effect=httpx.ConnectError("refused"))
        await fetch_results(ctx, claim, analysis)
    after = await analysis_row(sessionmaker, analysis.id)
    assert after.status == AnalysisStatus.FETCHING_RESULTS
    assert after.error == "job_results failed: job_results: ConnectError: refused"
    assert await _stored(sessionmaker, analysis.id) == {}


async def test_valossas_words_stay_when_we_uploaded_nothing(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    """Without a source_url, the video_url is the CMS's own: the reason is Valossa's as is."""
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="j",
        video_url="https://media.example/v.mp4",
    )
    details = "Could not download https://media.example/v.mp4"
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_status").respond(200, json=_status("error", details=details))
        await check_status(ctx, claim, analysis)
    assert (await analysis_row(sessionmaker, analysis.id)).error == details


async def test_every_transcript_is_recorded_absent_when_core_shows_no_speech(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.FETCHING_RESULTS,
        job_id="job-t",
        result_types=["core", "speech_to_text_srt", "speech_to_text_vtt"],
        result_types_explicit=False,
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_results", params={"type": "core"}).respond(200, json=SILENT_CORE)
        await fetch_results(ctx, claim, analysis)
    assert await _stored(sessionmaker, analysis.id) == {
        "core": None,
        "speech_to_text_srt": NO_SPEECH,
        "speech_to_text_vtt": NO_SPEECH,
    }
    assert await event_reasons(sessionmaker, analysis.id) == [
        "stored core; Valossa has no speech_to_text_srt, speech_to_text_vtt"
    ]


async def _content_types(
    sessionmaker: SessionMaker, analysis_id: uuid.UUID
) -> dict[str, str | None]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(StoredResult).where(StoredResult.analysis_id == analysis_id)
        )
        return {row.result_type: row.content_type for row in rows}


async def test_the_cms_is_told_which_results_were_stored(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    notifying = dataclasses.replace(ctx, lifecycle=Lifecycle(actor="w", notify_cms=True))
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.FETCHING_RESULTS,
        job_id="job-w",
        result_types=["core", "speech_to_text_srt", "speech_to_text_vtt"],
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_results", params={"type": "core"}).respond(
            200, json=SPEAKING_CORE
        )
        valossa.get("/core/1.0/job_results", params={"type": "speech_to_text_srt"}).respond(
            200, text=SRT
        )
        valossa.get("/core/1.0/job_results", params={"type": "speech_to_text_vtt"}).respond(
            400, json={"errors": [{"message": "No VTT"}, {"message": "try SRT"}]}
        )
        await fetch_results(notifying, claim, analysis)
    async with sessionmaker() as session:
        [webhook] = await session.scalars(select(Webhook))
    assert webhook.payload["data"]["result_types"] == ["core", "speech_to_text_srt"]
    stored = await _stored(sessionmaker, analysis.id)
    assert stored["speech_to_text_vtt"] == "No VTT; try SRT"


async def test_results_keep_valossas_content_type_or_get_ours(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    """Valossa's content type is kept; a missing or generic one is replaced by the type's own."""
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.FETCHING_RESULTS,
        job_id="job-ct",
        result_types=["core", "speech_to_text_srt", "speech_to_text_vtt"],
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_results", params={"type": "core"}).respond(
            200, json=SPEAKING_CORE
        )
        valossa.get("/core/1.0/job_results", params={"type": "speech_to_text_srt"}).respond(
            200, content=SRT.encode(), headers={"content-type": "application/octet-stream"}
        )
        valossa.get("/core/1.0/job_results", params={"type": "speech_to_text_vtt"}).respond(
            200, content=b"WEBVTT\n", headers={"content-type": "text/vtt; charset=latin-1"}
        )
        await fetch_results(ctx, claim, analysis)
    assert await _content_types(sessionmaker, analysis.id) == {
        "core": "application/json",
        "speech_to_text_srt": "application/x-subrip; charset=utf-8",
        "speech_to_text_vtt": "text/vtt; charset=latin-1",
    }


async def test_named_results_without_core_may_all_be_absent(
    ctx: StepContext, sessionmaker: SessionMaker
) -> None:
    claim, analysis = await _claimed(
        sessionmaker,
        status=AnalysisStatus.FETCHING_RESULTS,
        job_id="job-x",
        result_types=["speech_to_text_srt"],
        result_types_explicit=True,
    )
    with respx.mock(base_url=ctx.settings.valossa_base_url) as valossa:
        valossa.get("/core/1.0/job_results").respond(400, json={"errors": [{"message": ""}]})
        await fetch_results(ctx, claim, analysis)
    assert (await analysis_row(sessionmaker, analysis.id)).status == AnalysisStatus.FINISHED
    assert await event_reasons(sessionmaker, analysis.id) == [
        "stored nothing; Valossa has no speech_to_text_srt"
    ]
    # An empty message from Valossa: the error itself says what happened.
    assert await _stored(sessionmaker, analysis.id) == {
        "speech_to_text_srt": "job_results: HTTP 400: "
    }
