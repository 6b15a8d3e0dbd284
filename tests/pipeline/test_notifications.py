"""The CMS hears when an analysis ends (signed Standard Webhooks, retried, never twice because
of a DELETE), and stuck work is flagged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from starlette.responses import Response

from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.cms import SECRET, Cms, Received, running_cms
from tests.support.emulator import EmulatorHandle
from tests.support.waiting import eventually


@pytest.fixture
async def cms(stack: Stack) -> AsyncIterator[Cms]:
    """A CMS endpoint that the stack's workers deliver to (fast retries)."""
    async with running_cms() as (receiver, url):
        stack.settings = stack.settings.model_copy(
            update={
                "cms_webhook_url": url,
                "cms_webhook_secret": SecretStr(SECRET),
                "webhook_retry_schedule_s": "0.1,0.1,0.1",
            }
        )
        yield receiver


async def test_cms_gets_a_verifiable_webhook_when_an_analysis_ends(
    stack: Stack, media_url: str, cms: Cms
) -> None:
    failures = 1

    async def fail_once(_: Received) -> Response:
        return Response(status_code=503 if len(cms.received) <= failures else 204)

    cms.answer = fail_once
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        response = await stack.api.post(
            "/v1/analyses",
            json={"customer_media_id": "hooked", "video_url": f"{media_url}/clip.mp4"},
        )
        analysis_id = response.json()["id"]
        view = await wait_for_status(stack.api, analysis_id, {"finished"})
        await eventually(lambda: len(cms.received) >= 2, within=20)
    first, second = cms.received
    assert first.webhook_id == second.webhook_id, "a retry keeps its id"
    payload = second.verify(SECRET)
    assert payload["type"] == "analysis.finished"
    assert payload["data"]["analysis_id"] == analysis_id
    assert payload["data"]["status"] == "finished"
    assert payload["data"]["customer_media_id"] == "hooked"
    assert payload["data"]["valossa_job_id"] == view["valossa"]["job_id"]
    stored = [name for name, r in view["results"].items() if r["state"] == "stored"]
    assert sorted(payload["data"]["result_types"]) == sorted(stored)
    assert payload["data"]["links"]["metadata"]["core"] == "/v1/media/hooked/metadata?type=core"
    metadata = await stack.api.get(payload["data"]["links"]["metadata"]["core"])
    assert metadata.status_code == 200


async def test_a_delivery_racing_a_delete_of_its_media_goes_out_once_and_alone(
    stack: Stack, media_url: str, cms: Cms, caplog: pytest.LogCaptureFixture
) -> None:
    doomed_arrived = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_doomed(got: Received) -> Response:
        if got.payload["data"]["customer_media_id"] == "doomed":
            doomed_arrived.set()
            await release.wait()
        return Response(status_code=204)

    cms.answer = hold_the_doomed
    media = ["doomed", "kept-1", "kept-2", "kept-3"]
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        await stack.start_worker(workers, "w2")
        ids = {}
        for customer_media_id in media:
            body = {"customer_media_id": customer_media_id, "video_url": f"{media_url}/clip.mp4"}
            ids[customer_media_id] = (await stack.api.post("/v1/analyses", json=body)).json()["id"]
        await asyncio.wait_for(doomed_arrived.wait(), timeout=60)
        await eventually(lambda: all(cms.of_media(m) for m in media), within=60)
        # The CMS holds the doomed delivery's answer while the media is deleted.
        deleted = await stack.api.delete("/v1/media/doomed")
        assert deleted.status_code == 204, deleted.text
        release.set()

        async def doomed_delivered() -> bool:
            page = await stack.api.get(
                f"/v1/webhooks/deliveries?analysis_id={ids['doomed']}&status=delivered"
            )
            return len(page.json()["items"]) == 1

        await eventually(doomed_delivered, within=20)
        await asyncio.sleep(1.0)  # any re-send (retries come after 0.1 s) would be in by now
    webhook_ids = [got.webhook_id for got in cms.received]
    assert len(webhook_ids) == len(set(webhook_ids)) == len(media), "each went out once"
    assert {got.verify(SECRET)["data"]["customer_media_id"] for got in cms.received} == set(media)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_analysis_past_its_deadline_is_flagged_overdue(
    stack: Stack, emulator: EmulatorHandle, media_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await emulator.configure(speed=0.001)  # Valossa never gets anywhere
    stack.settings.analysis_deadline_s = 0.5
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        response = await stack.api.post(
            "/v1/analyses",
            json={"customer_media_id": "slowpoke", "video_url": f"{media_url}/clip.mp4"},
        )
        analysis_id = response.json()["id"]

        async def flagged_by_the_sweeper() -> bool:
            events = (await stack.api.get(f"/v1/analyses/{analysis_id}/events")).json()
            return any("overdue" in (event["reason"] or "") for event in events["items"])

        await eventually(flagged_by_the_sweeper, within=15)
    view = (await stack.api.get(f"/v1/analyses/{analysis_id}")).json()
    assert view["status"] == "submitted"
    assert view["overdue"] is True
    assert view["overdue_since"]
    assert any("overdue" in record.getMessage() for record in caplog.records)
