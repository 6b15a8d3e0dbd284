"""Claims: one submission per media at a time, and work left by a dying worker is resumed."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.analyses.lifecycle import Lifecycle
from service.analyses.states import AnalysisStatus
from service.analyses.steps.leases import claim_backlog
from service.db import SessionMaker
from service.valossa import upload_file
from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle, media_of
from tests.support.factories import insert_analysis


async def test_backlog_submits_one_analysis_per_media_at_a_time(
    sessionmaker: SessionMaker,
) -> None:
    first = await insert_analysis(sessionmaker, customer_media_id="same")
    await insert_analysis(sessionmaker, customer_media_id="same")
    other = await insert_analysis(sessionmaker, customer_media_id="other")
    lifecycle = Lifecycle(actor="test", notify_cms=False)

    async def claim() -> set[str]:
        async with sessionmaker() as session, session.begin():
            claimed = await claim_backlog(
                session,
                lifecycle,
                worker="test",
                max_in_flight=10,
                lease_s=60,
                submit_deadline=timedelta(hours=1),
                limit=10,
            )
        return {str(a.id) for _, a in claimed}

    assert await claim() == {str(first.id), str(other.id)}
    # The second analysis of "same" waits while the first is being submitted.
    assert await claim() == set()


async def test_upload_interrupted_before_new_job_is_resumed(
    stack: Stack, emulator: EmulatorHandle, media_dir: Path, sessionmaker: SessionMaker
) -> None:
    """A worker uploaded the source, recorded it, and died before new_job: its lease ran out."""
    clip = media_dir / "clip.mp4"
    upload_url = await upload_file(emulator.valossa, clip, size=clip.stat().st_size)
    analysis = await insert_analysis(
        sessionmaker,
        customer_media_id="resumed",
        status=AnalysisStatus.SUBMITTING,
        video_url=upload_url,
        source_url="https://media.example/clip.mp4",
        claimed_by="dead-worker#1",
        claimed_until=datetime.now(UTC) - timedelta(seconds=1),
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        done = await wait_for_status(stack.api, str(analysis.id), {"finished", "failed"})
    assert done["status"] == AnalysisStatus.FINISHED
    assert [media_of(j) for j in await emulator.jobs()] == ["resumed"]
