"""Shared by the CMS API tests: an API client factory and the emulator handle."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from service.main import create_app
from service.settings import Settings
from service.valossa import CustomerMediaInfo, MediaUrl, NewJobMedia, ValossaClient

EMULATOR_KEY = "emulator-test-key"


@contextlib.asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on a fresh API app (lifespan running) built from `settings`."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


@dataclass
class Emulator:
    """A running emulator: its URL, an admin client, and a Valossa client with its key."""

    url: str
    admin: httpx.AsyncClient
    valossa: ValossaClient

    async def new_job(self, customer_media_id: str) -> str:
        """Create a job for `customer_media_id`; it stays queued (the clock barely moves)."""
        reply = await self.valossa.new_job(
            media=NewJobMedia(
                video=MediaUrl(url="http://127.0.0.1:9/never-downloaded.mp4"),
                customer_media_info=CustomerMediaInfo(id=customer_media_id),
            )
        )
        return reply.job_id

    async def force(self, job_id: str, status: str) -> None:
        """Hold a job in `status` (admin API)."""
        response = await self.admin.post(f"/_emulator/jobs/{job_id}/force", json={"status": status})
        response.raise_for_status()

    async def jobs(self) -> dict[str, dict[str, object]]:
        """Every job the emulator knows, by job id."""
        response = await self.admin.get("/_emulator/jobs")
        response.raise_for_status()
        return {job["job_id"]: job for job in response.json()["jobs"]}
