"""The CMS hears when an analysis ends (signed webhooks, retried), and stuck work is flagged."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.process.serving import serve_in_background
from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle
from tests.support.waiting import eventually


class Receiver:
    """A CMS webhook endpoint that fails its first `failures` deliveries."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        if len(self.received) <= self.failures:
            return Response(status_code=503)
        return Response(status_code=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    cms = Receiver(failures=1)
    app = Starlette(routes=[Route("/hooks", cms.endpoint, methods=["POST"])])
    async with serve_in_background(app) as server:
        yield cms, f"{server.url}/hooks"


async def test_cms_gets_a_signed_webhook_when_an_analysis_ends(
    stack: Stack, media_url: str, receiver: tuple[Receiver, str]
) -> None:
    cms, url = receiver
    stack.settings.cms_webhook_url = url
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        response = await stack.api.post(
            "/v1/analyses",
            json={"customer_media_id": "hooked", "video_url": f"{media_url}/clip.mp4"},
        )
        analysis_id = response.json()["id"]
        await wait_for_status(stack.api, analysis_id, {"finished"})

        async def delivered() -> bool:
            return len(cms.received) >= 2

        await eventually(delivered, within=20)
    first, second = cms.received[0], cms.received[1]
    assert first[0]["webhook-id"] == second[0]["webhook-id"], "a retry keeps its id"
    headers, body = second
    payload: dict[str, Any] = json.loads(body)
    assert payload["analysis_id"] == analysis_id
    assert payload["status"] == "finished"
    assert payload["customer_media_id"] == "hooked"
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = hmac.new(b"test-signing-secret", signed, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


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
