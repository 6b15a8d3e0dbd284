"""The endpoint is disabled after days (here: half a second) of failures, visibly, and an
operator resumes it; the metrics count deliveries by outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from starlette.responses import Response

from service.db import SessionMaker
from service.settings import Settings
from service.webhooks.models import DeliveryStatus
from tests.support.api import AUTH, api_client
from tests.support.cms import SECRET, Cms, Received
from tests.support.waiting import eventually
from tests.webhooks.conftest import delivery, write_delivery


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in metrics:\n{text}")


async def test_an_endpoint_failing_for_too_long_is_disabled_until_enabled(
    hook_settings: Settings,
    sessionmaker: SessionMaker,
    cms: tuple[Cms, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver, url = cms
    healthy = False

    async def down_until_fixed(_: Received) -> Response:
        return Response(status_code=204 if healthy else 500)

    receiver.answer = down_until_fixed
    settings = hook_settings.model_copy(
        update={
            "webhook_retry_schedule_s": ",".join(["0.05"] * 40),
            "webhook_disable_after_s": 0.5,
            "run_worker_in_api": True,
        }
    )
    _, webhook = await write_delivery(sessionmaker)
    async with api_client(settings) as api:

        async def endpoint_state() -> str:
            view = (await api.get("/v1/webhooks/endpoint", headers=AUTH)).json()
            return str(view["state"])

        await eventually(lambda: _state_is(endpoint_state, "disabled"), within=30)
        view = (await api.get("/v1/webhooks/endpoint", headers=AUTH)).json()
        assert view["host"] == url.split("/")[2]
        assert view["pending"] == 1
        assert "every attempt failed" in view["disabled_reason"]
        metrics = (await api.get("/metrics")).text
        assert _value(metrics, "valossa_ingest_webhook_endpoint_disabled") == 1
        assert _value(metrics, "valossa_ingest_webhook_endpoint_disablings_total") == 1
        assert _value(metrics, "valossa_ingest_webhooks_pending") == 1
        assert _value(metrics, 'valossa_ingest_webhook_deliveries_total{outcome="retrying"}') >= 1
        assert any(
            "endpoint" in r.getMessage() and "disabled" in r.getMessage() for r in caplog.records
        )
        # Disabled: nothing is sent any more, and a replay says why it cannot go.
        sent = len(receiver.received)
        await asyncio.sleep(0.5)
        assert len(receiver.received) == sent
        replay = await api.post(f"/v1/webhooks/deliveries/{webhook.id}/replay", headers=AUTH)
        assert replay.status_code == 409
        assert "disabled" in replay.json()["detail"]

        healthy = True
        enabled = await api.post("/v1/webhooks/enable", headers=AUTH)
        assert enabled.status_code == 200
        assert enabled.json()["state"] == "enabled"
        await eventually(
            lambda: _status_is(sessionmaker, webhook.id, DeliveryStatus.DELIVERED), within=20
        )
        metrics = (await api.get("/metrics")).text
    receiver.received[-1].verify(SECRET)
    assert _value(metrics, "valossa_ingest_webhook_endpoint_disabled") == 0
    assert _value(metrics, 'valossa_ingest_webhook_deliveries_total{outcome="delivered"}') == 1
    assert _value(metrics, "valossa_ingest_webhook_delivery_latency_seconds_count") == 1
    assert _value(metrics, "valossa_ingest_webhooks_pending") == 0


async def _state_is(read: Callable[[], Awaitable[str]], state: str) -> bool:
    return await read() == state


async def _status_is(
    sessionmaker: SessionMaker, webhook_id: object, status: DeliveryStatus
) -> bool:
    return (await delivery(sessionmaker, webhook_id)).status is status


async def test_enable_and_replay_need_webhooks_configured(settings: Settings) -> None:
    async with api_client(settings) as api:
        enabled = await api.post("/v1/webhooks/enable", headers=AUTH)
        endpoint = await api.get("/v1/webhooks/endpoint", headers=AUTH)
    assert enabled.status_code == 409
    assert enabled.headers["content-type"] == "application/problem+json"
    assert "CMS_WEBHOOK_URL" in enabled.json()["detail"]
    assert endpoint.json()["state"] == "unconfigured"
