"""Failures no input explains: a bug answers a bare problem; a client hanging up is no error."""

from __future__ import annotations

import uuid

import httpx
import pytest

from service.analyses.tokens import CallbackTokens
from service.main import create_app
from service.process.serving import serve_in_background
from service.settings import Settings
from tests.edge.live_service import AUTH, SERVE_ENV, LiveService
from tests.edge.raw_http import request_head
from tests.support.api import AUTH as TEST_AUTH
from tests.support.waiting import eventually


async def test_an_unexpected_error_is_a_500_problem_without_details(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail: /srv/secret/path")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/v1/boom", headers=TEST_AUTH)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "an unexpected error occurred"
    assert "secret" not in response.text


async def test_an_unexpected_error_closes_the_connection_and_says_so(settings: Settings) -> None:
    # uvicorn closes the connection after an exception; without `Connection: close` a
    # kept-alive client sent its next request into the closed socket and saw a reset.
    app = create_app(settings)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail: /srv/secret/path")

    async with serve_in_background(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/v1/boom", headers=TEST_AUTH)
        assert response.status_code == 500
        assert response.headers["connection"] == "close"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "an unexpected error occurred"
        assert "secret" not in response.text
        for _ in range(3):  # the client opens a new connection each time, never meets a reset
            assert (await client.get("/v1/boom", headers=TEST_AUTH)).status_code == 500
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("target", ["callback", "api"])
async def test_a_client_hanging_up_mid_body_is_not_an_error(live: LiveService, target: str) -> None:
    if target == "callback":
        token = CallbackTokens(SERVE_ENV["CALLBACK_SIGNING_SECRET"]).token_for(uuid.uuid4())
        head = request_head("POST", f"/callbacks/valossa/{token}", "Content-Length: 1000")
    else:
        head = request_head(
            "POST",
            "/v1/analyses",
            f"Authorization: {AUTH['Authorization']}",
            "Content-Type: application/json",
            "Content-Length: 1000",
        )
    marker = f"/hangup-{uuid.uuid4().hex}"
    with live.connect() as sock:
        sock.sendall(head + b'{"status": "fin')
    # A request after it, to know the service has dealt with the first one.
    async with httpx.AsyncClient(base_url=live.url) as client:
        await client.get(marker)

    await eventually(
        lambda: any(marker in line for line in live.log_lines()), within=10, what="the marker"
    )
    if target == "callback":  # its hang-up is told, at INFO
        await eventually(
            lambda: any("client disconnected" in line for line in live.log_lines()), within=10
        )
    errors = [r for r in live.log_records() if r["level"] in ("ERROR", "CRITICAL")]
    assert errors == []
    assert not any("Traceback" in line for line in live.log_lines())
