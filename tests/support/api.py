"""Clients of our own API: in-process (ASGI) or over loopback, and waiting on an analysis."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from service.main import create_app
from service.settings import Settings
from tests.support.waiting import eventually

#: A CMS token that the test settings accept.
CMS_TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {CMS_TOKEN}"}


@contextlib.asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on a fresh API app (lifespan running), in-process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


async def wait_for_status(
    api: httpx.AsyncClient, analysis_id: str, statuses: set[str], within: float = 30.0
) -> dict[str, Any]:
    """Poll `GET /v1/analyses/{id}` until its status is one of `statuses`; the resource."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        response = await api.get(f"/v1/analyses/{analysis_id}", headers=AUTH)
        seen.clear()
        seen.update(response.json())
        return seen.get("status") in statuses

    try:
        await eventually(reached, within=within)
    except AssertionError:
        raise AssertionError(f"analysis never reached {sorted(statuses)}: {seen}") from None
    return seen
