"""Cancel, delete and re-analysis of one customer_media_id, end to end."""

from __future__ import annotations

import contextlib

from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle
from tests.support.waiting import eventually


async def _create(stack: Stack, media_id: str, media_url: str, title: str = "t") -> str:
    response = await stack.api.post(
        "/v1/analyses",
        json={"customer_media_id": media_id, "video_url": f"{media_url}/clip.mp4", "title": title},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_reanalysis_makes_the_latest_finished_one_current(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        first = await _create(stack, "again", media_url, title="first")
        await wait_for_status(stack.api, first, {"finished"})
        second = await _create(stack, "again", media_url, title="second")
        await wait_for_status(stack.api, second, {"finished"})
    media = (await stack.api.get("/v1/media/again")).json()
    assert media["current_analysis_id"] == second
    assert media["analyses_count"] == 2
    core = await stack.api.get("/v1/media/again/metadata", params={"type": "core"})
    assert b'"second"' in core.content
    assert len(await emulator.jobs_of("again")) == 2


async def test_cancel_before_valossa_finishes(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    await emulator.configure(speed=0.01)  # the job stays queued
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _create(stack, "to-cancel", media_url)
        await wait_for_status(stack.api, analysis_id, {"submitted"})
        response = await stack.api.post(f"/v1/analyses/{analysis_id}/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "canceled"
    jobs = await emulator.jobs_of("to-cancel")
    assert [j["status"] for j in jobs] == ["canceled"]
    again = await stack.api.post(f"/v1/analyses/{analysis_id}/cancel")
    assert again.status_code == 409


async def test_an_unconfirmed_cancel_is_followed_to_the_jobs_end(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    """Valossa answers the cancel with a status it does not document ("cancelling"), and the
    job later shows "error": the worker follows it, and the analysis ends canceled."""
    await emulator.configure(speed=0.01, cancel_status="cancelling", cancel_final_status="error")
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _create(stack, "slow-cancel", media_url)
        await wait_for_status(stack.api, analysis_id, {"submitted"})
        response = await stack.api.post(f"/v1/analyses/{analysis_id}/cancel")
        assert response.status_code == 202, response.text
        await emulator.configure(speed=200.0)  # the job's final status arrives
        done = await wait_for_status(stack.api, analysis_id, {"canceled", "failed", "finished"})
    assert done["status"] == "canceled", done
    assert done["valossa"]["status"] == "error"


async def test_delete_removes_valossa_jobs_and_our_rows(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _create(stack, "erase-me", media_url)
        await wait_for_status(stack.api, analysis_id, {"finished"})
    response = await stack.api.delete("/v1/media/erase-me")
    assert response.status_code == 204
    assert (await stack.api.get("/v1/media/erase-me")).status_code == 404
    assert (await stack.api.get(f"/v1/analyses/{analysis_id}")).status_code == 404

    async def gone() -> bool:
        return not await emulator.jobs_of("erase-me")

    await eventually(gone, within=5)
    assert (await stack.api.delete("/v1/media/erase-me")).status_code == 204
