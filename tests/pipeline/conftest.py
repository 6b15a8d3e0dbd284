"""End-to-end fixtures: the emulator, a media server, our API and workers, over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.emulator.app import create_emulator_app
from service.emulator.media import write_sample_video
from service.emulator.settings import EmulatorSettings
from service.main import create_app
from service.resources import open_resources
from service.serving import bind_socket, serve_in_background
from service.settings import Settings
from service.worker import Worker

VALOSSA_KEY = "test-valossa-key"


@dataclass
class Emulator:
    """The emulator on loopback and a client for its admin endpoints."""

    url: str
    admin: httpx.AsyncClient

    async def jobs(self) -> list[dict[str, Any]]:
        response = await self.admin.get("/_emulator/jobs")
        response.raise_for_status()
        jobs: list[dict[str, Any]] = response.json()["jobs"]
        return jobs

    async def configure(self, **faults: Any) -> None:
        response = await self.admin.patch("/_emulator/config", json=faults)
        response.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        response = await self.admin.get("/_emulator/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    async def callbacks(self) -> list[dict[str, Any]]:
        response = await self.admin.get("/_emulator/callbacks")
        response.raise_for_status()
        callbacks: list[dict[str, Any]] = response.json()["callbacks"]
        return callbacks


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small real videos: with audio (speech results exist) and without (they do not)."""
    directory = tmp_path_factory.mktemp("media")
    write_sample_video(directory / "clip.mp4", duration_s=4.0)
    write_sample_video(directory / "silent.mp4", duration_s=3.0, audio=False)
    (directory / "not-a-video.mp4").write_bytes(b"<html>this is a web page</html>" * 20)
    return directory


@pytest.fixture
async def media_url(media_dir: Path) -> AsyncIterator[str]:
    """Base URL of a static file server for media_dir."""
    app = Starlette(routes=[Mount("/", app=StaticFiles(directory=media_dir))])
    async with serve_in_background(app) as server:
        yield server.url


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    """A fresh emulator: fast clock, no faults, our test key."""
    settings = EmulatorSettings(
        api_keys=SecretStr(VALOSSA_KEY), speed=200.0, data_dir=tmp_path / "emulator", seed=7
    )
    async with (
        serve_in_background(create_emulator_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url) as admin,
    ):
        yield Emulator(url=server.url, admin=admin)


@dataclass
class Stack:
    """Our API (served on loopback, so Valossa callbacks reach it) and its settings."""

    settings: Settings
    api: httpx.AsyncClient
    api_url: str

    async def start_worker(
        self, stack: contextlib.AsyncExitStack, name: str, *, concurrency: int = 10
    ) -> Worker:
        """Run one more worker (own resources, own scheduler) until the test ends."""
        resources = await stack.enter_async_context(open_resources(self.settings))
        worker = Worker(resources, name=name, concurrency=concurrency)
        await stack.enter_async_context(worker.running())
        return worker


@pytest.fixture
async def stack(settings: Settings, emulator: Emulator) -> AsyncIterator[Stack]:
    """The API on loopback, wired to the emulator; no worker yet (tests start theirs)."""
    sock = bind_socket()
    port = sock.getsockname()[1]
    wired = settings.model_copy(
        update={
            "valossa_base_url": emulator.url,
            "valossa_api_key": SecretStr(VALOSSA_KEY),
            "public_base_url": f"http://127.0.0.1:{port}",
        }
    )
    async with (
        serve_in_background(create_app(wired), sock=sock) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": "Bearer test-token"}, timeout=30
        ) as api,
    ):
        yield Stack(settings=wired, api=api, api_url=server.url)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 30.0, interval: float = 0.1
) -> None:
    """Wait until `check` is true; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s")


async def wait_for_status(
    api: httpx.AsyncClient, analysis_id: str, statuses: set[str], within: float = 30.0
) -> dict[str, Any]:
    """Poll our API until the analysis reaches one of `statuses`; return the resource."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        response = await api.get(f"/v1/analyses/{analysis_id}")
        seen.update(response.json())
        return seen.get("status") in statuses

    try:
        await eventually(reached, within=within)
    except AssertionError:
        raise AssertionError(f"analysis stuck: {seen}") from None
    return seen
