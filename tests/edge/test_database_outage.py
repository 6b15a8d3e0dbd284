"""A database that goes away: 503 problems with Retry-After, then recovery without help.

The app reaches Postgres through a proxy the test cuts (connections dropped, new ones refused)
and restores, as a Postgres restart does. The pool does not ping connections before use:
recovery must not depend on it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.analyses.states import AnalysisStatus
from service.analyses.tokens import CallbackTokens
from service.main import create_app
from service.settings import Settings
from tests.edge.tcp_proxy import CuttableProxy, cuttable_proxy
from tests.support.api import AUTH
from tests.support.factories import insert_analysis
from tests.support.waiting import eventually


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[CuttableProxy]:
    async with cuttable_proxy(database_url) as proxy:
        yield proxy


@pytest.fixture
async def app(settings: Settings, proxy: CuttableProxy) -> AsyncIterator[FastAPI]:
    url = proxy.url_through(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    app = create_app(settings.model_copy(update={"database_url": _secret(url)}))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def _requests(settings: Settings, analysis_id: uuid.UUID) -> list[tuple[str, str, Any]]:
    secret = settings.callback_signing_secret.get_secret_value()  # type: ignore[union-attr]
    token = CallbackTokens(secret).token_for(analysis_id)
    body = {"customer_media_id": "m", "video_url": "https://cdn.example/v.mp4"}
    return [
        ("GET", "/v1/analyses", None),
        ("POST", "/v1/analyses", body),
        ("GET", f"/v1/analyses/{analysis_id}", None),
        ("GET", f"/v1/analyses/{analysis_id}/events", None),
        ("POST", f"/v1/analyses/{analysis_id}/cancel", None),
        ("GET", "/v1/media/m", None),
        ("GET", "/v1/media/m/metadata", None),
        ("DELETE", "/v1/media/m", None),
        ("POST", f"/callbacks/valossa/{token}", {"status": "finished"}),
        ("GET", "/metrics", None),
    ]


async def _send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    return await client.request(method, path, json=body, headers=AUTH)


async def test_every_route_answers_503_problems_while_the_database_is_down(
    client: httpx.AsyncClient, settings: Settings, proxy: CuttableProxy, sessionmaker: Any
) -> None:
    analysis = await insert_analysis(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j")
    requests = _requests(settings, analysis.id)
    for method, path, body in requests:  # the pool holds live connections
        await _send(client, method, path, body)  # (cancel and delete: 503, Valossa is away)
    assert (await client.get("/v1/analyses", headers=AUTH)).status_code == 200
    proxy.cut()
    for method, path, body in requests:
        response = await _send(client, method, path, body)
        assert response.status_code == 503, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) > 0
        assert "unreachable" in response.json()["detail"]
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reason"] == "database unreachable"


async def test_the_pool_recovers_by_itself_after_a_restart(
    client: httpx.AsyncClient, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):  # several pooled connections, all alive
        assert (await client.get("/v1/analyses", headers=AUTH)).status_code == 200
    proxy.cut()  # Postgres restarts: every pooled connection dies...
    proxy.restore()  # ... and it is back before the next request
    statuses = [(await client.get("/v1/analyses", headers=AUTH)).status_code for _ in range(5)]
    # The first request meets a dead connection; the pool then drops every connection it held,
    # and the request (a GET) runs again on a fresh one: the client sees no error at all.
    assert statuses == [200] * 5, statuses
    with caplog.at_level(logging.WARNING):
        assert (await client.get("/metrics")).status_code == 200
    proxy.cut()
    proxy.restore()
    # A write is not run twice on its own: it may answer 503 once (Retry-After), then works.
    body = {"customer_media_id": "m", "video_url": "https://cdn.example/v.mp4"}
    first = await client.post("/v1/analyses", json=body, headers=AUTH)
    assert first.status_code in (202, 503), first.text
    again = await client.post("/v1/analyses", json=body, headers=AUTH)
    assert again.status_code == 202, again.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "PendingRollbackError" not in caplog.text


async def test_the_hot_reads_recover_by_themselves_after_a_restart(
    client: httpx.AsyncClient, proxy: CuttableProxy, sessionmaker: Any
) -> None:
    """`GET /v1/media/{id}` and `GET /v1/analyses/{id}` run on connections the Reader keeps
    out of the pool: after a restart they too answer without an error."""
    analysis = await insert_analysis(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j")
    paths = [f"/v1/analyses/{analysis.id}", f"/v1/media/{analysis.customer_media_id}"]
    for _ in range(2):  # several kept connections, all alive
        responses = await asyncio.gather(*(client.get(p, headers=AUTH) for p in paths * 4))
        assert [r.status_code for r in responses] == [200] * 8
    proxy.cut()
    proxy.restore()
    statuses = [(await client.get(p, headers=AUTH)).status_code for p in paths * 5]
    assert statuses == [200] * 10, statuses


async def test_a_callback_during_an_outage_is_a_503_and_changes_nothing(
    client: httpx.AsyncClient,
    settings: Settings,
    proxy: CuttableProxy,
    sessionmaker: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    analysis = await insert_analysis(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j")
    _, path, body = _requests(settings, analysis.id)[-2]
    proxy.cut()
    response = await client.post(path, json=body)
    assert response.status_code == 503
    proxy.restore()

    async def accepted() -> bool:
        return (await client.post(path, json=body)).status_code == 200

    await eventually(accepted, within=10, what="the callback accepted once the database is back")
    assert "PendingRollbackError" not in caplog.text


def _secret(url: str) -> object:
    from pydantic import SecretStr

    return SecretStr(url)
