"""Trusting deliveries: secret rotation, at least once across a dead worker, woken at once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError
from starlette.responses import Response

from service.db import SessionMaker
from service.settings import Settings
from service.webhooks import queries
from service.webhooks.models import DeliveryStatus
from service.webhooks.signing import new_secret
from tests.support.cms import OLD_SECRET, SECRET, Cms, Received
from tests.support.processes import environment, running_command
from tests.support.waiting import eventually
from tests.webhooks.conftest import delivery, running_worker, write_delivery


async def _delivered(sessionmaker: SessionMaker, webhook_id: uuid.UUID) -> bool:
    return (await delivery(sessionmaker, webhook_id)).status is DeliveryStatus.DELIVERED


async def test_during_a_rotation_old_and_new_secrets_both_verify(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    rotating = hook_settings.model_copy(
        update={"cms_webhook_secret": SecretStr(f"{SECRET}, {OLD_SECRET}")}
    )
    _, webhook = await write_delivery(sessionmaker)
    async with running_worker(rotating):
        await eventually(lambda: _delivered(sessionmaker, webhook.id), within=20)
    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert got.verify(SECRET) == got.verify(OLD_SECRET) == got.payload
    with pytest.raises(WebhookVerificationError):
        Verifier(new_secret()).verify(got.body, got.headers)


async def test_after_the_rotation_the_old_secret_no_longer_verifies(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    _, webhook = await write_delivery(sessionmaker)
    async with running_worker(hook_settings):
        await eventually(lambda: _delivered(sessionmaker, webhook.id), within=20)
    (got,) = receiver.received
    got.verify(SECRET)
    with pytest.raises(WebhookVerificationError):
        got.verify(OLD_SECRET)


async def test_a_delivery_whose_worker_died_is_sent_after_its_lease_ends(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    _, webhook = await write_delivery(sessionmaker)
    # A worker claims it and dies before recording anything.
    async with sessionmaker() as session, session.begin():
        (claimed,) = await queries.claim_due(session, token="dead#1", lease_s=1.0, limit=5)
    async with running_worker(hook_settings):
        await eventually(lambda: _delivered(sessionmaker, webhook.id), within=20)
    assert [got.webhook_id for got in receiver.received] == [str(webhook.id)]
    # Had the dead worker come back, its late record changes nothing.
    async with sessionmaker() as session, session.begin():
        late = await queries.record_attempt(
            session,
            claimed,
            token="dead#1",
            status_code=None,
            error="boom",
            duration_s=0.1,
            retry_in_s=5.0,
            worker="dead",
        )
    assert late is None
    row = await delivery(sessionmaker, webhook.id)
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 1)


async def test_killed_mid_send_the_delivery_is_sent_again_by_another_worker(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    first_request = asyncio.Event()
    hang = asyncio.Event()

    async def hang_the_first(got: Received) -> Response:
        if len(receiver.received) == 1:
            first_request.set()
            await hang.wait()
        return Response(status_code=204)

    receiver.answer = hang_the_first
    settings = hook_settings.model_copy(update={"webhook_timeout_s": 1.0})
    _, webhook = await write_delivery(sessionmaker)
    env = environment(settings, TICK_INTERVAL_S="0.2")
    with running_command("worker", "--health-port", "0", env=env) as process:
        await asyncio.wait_for(first_request.wait(), timeout=60)
        process.kill()  # SIGKILL mid-send: no chance to record anything
        await asyncio.to_thread(process.wait)
    hang.set()
    assert (await delivery(sessionmaker, webhook.id)).status is DeliveryStatus.PENDING
    async with running_worker(settings, name="survivor"):
        await eventually(lambda: _delivered(sessionmaker, webhook.id), within=30)
    assert [got.webhook_id for got in receiver.received] == [str(webhook.id)] * 2
    for got in receiver.received:
        got.verify(SECRET)
    assert (await delivery(sessionmaker, webhook.id)).attempts == 1


async def test_a_webhook_row_written_wakes_a_worker_at_once(
    hook_settings: Settings, sessionmaker: SessionMaker, cms: tuple[Cms, str]
) -> None:
    receiver, _ = cms
    # The interval alone would not look again for an hour: only the NOTIFY can wake it.
    sleepy = hook_settings.model_copy(update={"tick_interval_s": 3600.0})
    async with running_worker(sleepy):
        await asyncio.sleep(0.5)  # the first round (at start) is over
        _, webhook = await write_delivery(sessionmaker)
        await eventually(lambda: _delivered(sessionmaker, webhook.id), within=20)
    assert len(receiver.received) == 1
