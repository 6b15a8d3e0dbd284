"""The Valossa emulator on a loopback port, and one handle to drive it from tests."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from service.analyses.valossa_jobs import MARKER
from service.emulator.app import create_emulator_app
from service.emulator.settings import EmulatorSettings
from service.process.serving import serve_in_background
from service.settings import Settings
from service.valossa import CustomerMediaInfo, MediaUrl, NewJobMedia, ValossaClient

#: The API key the emulator accepts in tests (and the one our settings send).
EMULATOR_KEY = "test-valossa-key"


def media_of(job: dict[str, Any]) -> str | None:
    """The CMS media id of an emulator job: its customer media id without our marker."""
    valossa_id = job.get("customer_media_id")
    if valossa_id is None:
        return None
    head, marker, _ = str(valossa_id).rpartition(MARKER)
    return head if marker else str(valossa_id)


@dataclass
class EmulatorHandle:
    """A running emulator: its URL, a client for its admin API, and a Valossa client."""

    url: str
    admin: httpx.AsyncClient
    valossa: ValossaClient

    async def jobs(self) -> list[dict[str, Any]]:
        """Every job the emulator knows (admin view, newest first)."""
        response = await self.admin.get("/_emulator/jobs")
        response.raise_for_status()
        jobs: list[dict[str, Any]] = response.json()["jobs"]
        return jobs

    async def jobs_by_id(self) -> dict[str, dict[str, Any]]:
        """Every job the emulator knows, by job id."""
        return {job["job_id"]: job for job in await self.jobs()}

    async def jobs_of(self, customer_media_id: str) -> list[dict[str, Any]]:
        """The jobs of one CMS media id (ours carry a per-attempt marker after the CMS's id)."""
        return [j for j in await self.jobs() if media_of(j) == customer_media_id]

    async def jobs_per_media(self) -> Counter[str]:
        """How many jobs each CMS media id has."""
        return Counter(media_of(job) for job in await self.jobs())

    async def configure(self, **settings: Any) -> None:
        """Change fault knobs or the clock at run time (PATCH /_emulator/config)."""
        response = await self.admin.patch("/_emulator/config", json=settings)
        response.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        """Call counts and other statistics."""
        response = await self.admin.get("/_emulator/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    async def callbacks(self) -> list[dict[str, Any]]:
        """The callbacks the emulator sent (or tried to)."""
        response = await self.admin.get("/_emulator/callbacks")
        response.raise_for_status()
        callbacks: list[dict[str, Any]] = response.json()["callbacks"]
        return callbacks

    async def force(self, job_id: str, status: str) -> None:
        """Hold a job in `status`."""
        response = await self.admin.post(f"/_emulator/jobs/{job_id}/force", json={"status": status})
        response.raise_for_status()

    async def new_job(self, customer_media_id: str, **media: Any) -> str:
        """Create a job straight at the emulator (not through our service); its id."""
        reply = await self.valossa.new_job(
            media=NewJobMedia(
                video=MediaUrl(url="http://127.0.0.1:9/never-downloaded.mp4"),
                customer_media_info=CustomerMediaInfo(id=customer_media_id),
                **media,
            )
        )
        return reply.job_id


def settings_for(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """`settings` with the emulator as Valossa (its URL and the key it accepts)."""
    return settings.model_copy(
        update={"valossa_base_url": emulator.url, "valossa_api_key": SecretStr(EMULATOR_KEY)}
    )


@contextlib.asynccontextmanager
async def running_emulator(
    data_dir: Path, *, api_key: str = EMULATOR_KEY, **settings: Any
) -> AsyncIterator[EmulatorHandle]:
    """Serve a fresh emulator (settings as EmulatorSettings fields) for the block."""
    emulator_settings = EmulatorSettings(api_keys=SecretStr(api_key), data_dir=data_dir, **settings)
    async with (
        serve_in_background(create_emulator_app(emulator_settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as admin,
        httpx.AsyncClient(timeout=30) as http,
    ):
        yield EmulatorHandle(
            url=server.url,
            admin=admin,
            valossa=ValossaClient(http, api_key=api_key, base_url=server.url),
        )
