"""Claims: one submission per media at a time, and work left by a dying worker is resumed."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from service.analyses.lifecycle import Lifecycle
from service.analyses.states import AnalysisStatus
from service.analyses.steps import submission
from service.analyses.steps.leases import claim_backlog
from service.db import SessionMaker
from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle
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
                max_in_flight=10,
                lease=timedelta(minutes=1),
                submit_deadline=timedelta(hours=1),
            )
        return {str(a.id) for a in claimed}

    assert await claim() == {str(first.id), str(other.id)}
    # The second analysis of "same" waits while the first is being submitted.
    assert await claim() == set()


async def test_upload_interrupted_before_new_job_is_resumed(
    stack: Stack, emulator: EmulatorHandle, media_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies (its task is cancelled) after the upload, before new_job."""
    real_submit = submission.submit
    deaths = 0

    async def die_once(*args: Any, **kwargs: Any) -> None:
        nonlocal deaths
        if deaths == 0:
            deaths += 1
            raise asyncio.CancelledError
        await real_submit(*args, **kwargs)

    monkeypatch.setattr(submission, "submit", die_once)
    stack.settings.lease_s = 1.0
    stack.settings.allow_private_source_urls = True
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        response = await stack.api.post(
            "/v1/analyses",
            json={"customer_media_id": "resumed", "source_url": f"{media_url}/clip.mp4"},
        )
        analysis_id = response.json()["id"]
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert deaths == 1
    assert done["status"] == AnalysisStatus.FINISHED
    assert [j["customer_media_id"] for j in await emulator.jobs()] == ["resumed"]
