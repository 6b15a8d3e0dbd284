"""`/v1/webhooks/deliveries`: list (filters, keyset pages, attempts), one, replay; errors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update

from service.db import SessionMaker
from service.settings import Settings
from service.webhooks import queries
from service.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt
from tests.support.api import AUTH, api_client
from tests.webhooks.conftest import write_delivery


async def _set_status(sessionmaker: SessionMaker, webhook_id: uuid.UUID, status: str) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(status=status, attempts=1, tries=1, last_error="HTTP 500")
        )
        session.add(
            WebhookAttempt(
                webhook_id=webhook_id,
                duration_ms=12,
                status_code=500,
                error="HTTP 500",
                delivered=False,
                worker="w1",
            )
        )


@pytest.fixture
async def api(hook_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(hook_settings) as client:
        yield client


async def test_lists_deliveries_newest_first_with_filters_and_pages(
    api: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    written = [await write_delivery(sessionmaker, customer_media_id=f"m-{n}") for n in range(5)]
    failed_analysis, failed = written[1]
    await _set_status(sessionmaker, failed.id, "failed")

    first = (await api.get("/v1/webhooks/deliveries?limit=2", headers=AUTH)).json()
    second = (
        await api.get(
            f"/v1/webhooks/deliveries?limit=2&cursor={first['next_cursor']}", headers=AUTH
        )
    ).json()
    third = (
        await api.get(
            f"/v1/webhooks/deliveries?limit=2&cursor={second['next_cursor']}", headers=AUTH
        )
    ).json()
    seen = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert seen == [str(webhook.id) for _, webhook in reversed(written)]
    assert third["next_cursor"] is None

    only_failed = (await api.get("/v1/webhooks/deliveries?status=failed", headers=AUTH)).json()
    (item,) = only_failed["items"]
    assert item["id"] == str(failed.id)
    assert item["status"] == "failed"
    assert item["attempt_count"] == 1
    assert [(a["status_code"], a["error"], a["delivered"]) for a in item["attempts"]] == [
        (500, "HTTP 500", False)
    ]
    assert item["payload"]["data"]["analysis_id"] == str(failed_analysis.id)
    pending = (await api.get("/v1/webhooks/deliveries?status=pending", headers=AUTH)).json()
    assert len(pending["items"]) == 4
    of_one = (
        await api.get(f"/v1/webhooks/deliveries?analysis_id={failed_analysis.id}", headers=AUTH)
    ).json()
    assert [i["id"] for i in of_one["items"]] == [str(failed.id)]
    one = await api.get(f"/v1/webhooks/deliveries/{failed.id}", headers=AUTH)
    assert one.json() == item


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("status=lost", 422),
        ("analysis_id=not-a-uuid", 422),
        ("limit=0", 422),
        ("limit=101", 422),
        ("cursor=not-a-cursor", 400),
    ],
)
async def test_invalid_parameters_are_problem_details(
    api: httpx.AsyncClient, query: str, status: int
) -> None:
    response = await api.get(f"/v1/webhooks/deliveries?{query}", headers=AUTH)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def test_webhook_routes_need_a_cms_token(api: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/v1/webhooks/deliveries"),
        ("GET", f"/v1/webhooks/deliveries/{uuid.uuid4()}"),
        ("POST", f"/v1/webhooks/deliveries/{uuid.uuid4()}/replay"),
        ("GET", "/v1/webhooks/endpoint"),
        ("POST", "/v1/webhooks/enable"),
    ]:
        response = await api.request(method, path)
        assert response.status_code == 401, path


async def test_replay_queues_a_failed_delivery_with_a_fresh_schedule(
    api: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    _, webhook = await write_delivery(sessionmaker)
    await _set_status(sessionmaker, webhook.id, "failed")

    response = await api.post(f"/v1/webhooks/deliveries/{webhook.id}/replay", headers=AUTH)

    assert response.status_code == 202
    view = response.json()
    assert (view["status"], view["failed_at"], view["attempt_count"]) == ("pending", None, 1)
    assert view["next_attempt_at"] is not None
    async with sessionmaker() as session:
        row = await session.get(Webhook, webhook.id)
    assert row is not None
    assert (row.status, row.tries) == (DeliveryStatus.PENDING, 0)


async def test_replay_refuses_a_delivery_being_sent_and_an_unknown_one(
    api: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    _, webhook = await write_delivery(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await queries.claim_due(session, token="w#1", lease_s=60, limit=1)

    busy = await api.post(f"/v1/webhooks/deliveries/{webhook.id}/replay", headers=AUTH)
    unknown = await api.post(f"/v1/webhooks/deliveries/{uuid.uuid4()}/replay", headers=AUTH)

    assert busy.status_code == 409
    assert "being sent" in busy.json()["detail"]
    assert unknown.status_code == 404
