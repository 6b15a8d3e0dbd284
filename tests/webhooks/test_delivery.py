"""Delivering webhooks: signed for the CMS, retried with the same id, logged, given up, and
independent of each other (a slow CMS answer holds only its own delivery)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from starlette.responses import Response, StreamingResponse

from service.db import SessionMaker
from service.settings import Settings
from service.webhooks.models import DeliveryStatus, WebhookAttempt
from tests.support.cms import SECRET, Cms, Received
from tests.support.waiting import eventually
from tests.webhooks.conftest import delivery, running_worker, write_delivery


async def _attempts(sessionmaker: SessionMaker, webhook_id: object) -> list[WebhookAttempt]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.webhook_id == webhook_id)
            .order_by(WebhookAttempt.id)
        )
        return list(rows)


async def test_every_delivery_verifies_with_the_cms_secret(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    written = [await write_delivery(sessionmaker, customer_media_id=f"m-{n}") for n in range(3)]
    async with running_worker(hook_settings):
        await eventually(lambda: len(receiver.received) >= 3, within=20)
        for _, webhook in written:
            await eventually(
                lambda w=webhook: _is(sessionmaker, w.id, DeliveryStatus.DELIVERED), within=10
            )
    assert len(receiver.received) == 3
    for got in receiver.received:
        payload = got.verify(SECRET)
        assert set(payload) == {"type", "timestamp", "data"}
        assert payload["type"] == "analysis.finished"
        assert got.headers["content-type"] == "application/json"
    by_media = {got.payload["data"]["customer_media_id"]: got for got in receiver.received}
    for analysis, webhook in written:
        got = by_media[analysis.customer_media_id]
        assert got.webhook_id == str(webhook.id)
        assert got.payload["data"] == {
            "analysis_id": str(analysis.id),
            "customer_media_id": analysis.customer_media_id,
            "status": "finished",
            "valossa_job_id": analysis.job_id,
            "result_types": ["core"],
            "error": None,
            "links": {
                "analysis": f"/v1/analyses/{analysis.id}",
                "metadata": {"core": f"/v1/media/{analysis.customer_media_id}/metadata?type=core"},
            },
        }
        attempts = await _attempts(sessionmaker, webhook.id)
        assert [(a.delivered, a.status_code, a.error) for a in attempts] == [(True, 204, None)]


async def _is(sessionmaker: SessionMaker, webhook_id: object, status: DeliveryStatus) -> bool:
    return (await delivery(sessionmaker, webhook_id)).status is status


async def test_failed_attempts_keep_their_id_are_logged_and_give_up(
    hook_settings: Settings,
    sessionmaker: SessionMaker,
    cms: tuple[Cms, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver, url = cms

    async def unavailable(_: Received) -> Response:
        return Response(status_code=503)

    receiver.answer = unavailable
    _, webhook = await write_delivery(sessionmaker)
    async with running_worker(hook_settings):
        await eventually(lambda: _is(sessionmaker, webhook.id, DeliveryStatus.FAILED), within=20)
    row = await delivery(sessionmaker, webhook.id)
    assert (row.attempts, row.last_error, row.gave_up_at is not None) == (3, "HTTP 503", True)
    assert {got.webhook_id for got in receiver.received} == {str(webhook.id)}
    assert len(receiver.received) == 3
    for got in receiver.received:
        got.verify(SECRET)  # every retry is signed afresh (its own timestamp)
    attempts = await _attempts(sessionmaker, webhook.id)
    assert [(a.status_code, a.error, a.delivered) for a in attempts] == [
        (503, "HTTP 503", False)
    ] * 3
    assert [a.next_attempt_at is not None for a in attempts] == [True, True, False]
    host = url.split("/")[2]
    retries = [r.getMessage() for r in caplog.records if "next attempt at" in r.getMessage()]
    assert len(retries) == 2
    assert all(f"to {host} failed (HTTP 503)" in line for line in retries)
    assert any("retry schedule is spent" in r.getMessage() for r in caplog.records)


async def test_a_url_that_cannot_be_sent_to_is_recorded_and_gives_up(
    hook_settings: Settings, sessionmaker: SessionMaker
) -> None:
    # Start-up refuses such a URL; a delivery meeting one anyway still ends.
    broken = hook_settings.model_copy(update={"cms_webhook_url": "http://[::1"})
    _, webhook = await write_delivery(sessionmaker)
    async with running_worker(broken):
        await eventually(lambda: _is(sessionmaker, webhook.id, DeliveryStatus.FAILED), within=20)
    attempts = await _attempts(sessionmaker, webhook.id)
    assert len(attempts) == 3
    assert all(a.error == "could not send: InvalidURL" for a in attempts)


def _dripping(release: asyncio.Event) -> Response:
    """A 200 whose body never ends: one byte every 0.1 s until `release`."""

    async def drip() -> AsyncIterator[bytes]:
        while not release.is_set():
            yield b" "
            await asyncio.sleep(0.1)

    return StreamingResponse(drip(), status_code=200)


async def test_a_slow_cms_answer_does_not_delay_other_deliveries(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    release = asyncio.Event()

    async def slow_for_one_media(got: Received) -> Response:
        if got.payload["data"]["customer_media_id"] == "slow":
            return _dripping(release)
        return Response(status_code=204)

    receiver.answer = slow_for_one_media
    _, slow = await write_delivery(sessionmaker, customer_media_id="slow")
    async with running_worker(hook_settings):
        await eventually(lambda: receiver.of_media("slow"), within=20)
        _, fast = await write_delivery(sessionmaker, customer_media_id="fast")
        await eventually(lambda: _is(sessionmaker, fast.id, DeliveryStatus.DELIVERED), within=20)
        # The slow answer is still dripping: its delivery is under way, not recorded.
        assert (await delivery(sessionmaker, slow.id)).attempts == 0
        release.set()
        await eventually(lambda: _is(sessionmaker, slow.id, DeliveryStatus.DELIVERED), within=20)


async def test_an_attempt_ends_within_its_total_time_limit(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    never = asyncio.Event()

    async def drip_forever(_: Received) -> Response:
        return _dripping(never)

    receiver.answer = drip_forever
    limited = hook_settings.model_copy(update={"webhook_timeout_s": 0.5})
    _, webhook = await write_delivery(sessionmaker)
    async with running_worker(limited):
        await eventually(lambda: _is(sessionmaker, webhook.id, DeliveryStatus.FAILED), within=30)
    never.set()
    attempts = await _attempts(sessionmaker, webhook.id)
    assert [a.error for a in attempts] == ["no complete answer within 0.5 s"] * 3
