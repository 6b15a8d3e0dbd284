"""End-to-end fixtures: the emulator, a media server, our API and workers, over loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.emulator.media import write_sample_video
from service.main import create_app
from service.process.serving import bind_socket, serve_in_background
from service.resources import open_resources
from service.settings import Settings
from service.worker import Worker
from tests.support.emulator import EMULATOR_KEY, EmulatorHandle, running_emulator


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


#: Where Valossa's docs are silent, the emulator may behave otherwise than it does by default.
#: Tests marked with this run under its default and under the other choices: list_jobs oldest
#: first, and only the fields Valossa documents.
UNDER_EACH_VALOSSA_BEHAVIOUR = pytest.mark.parametrize(
    "emulator",
    [{}, {"list_order": "oldest", "undocumented_fields": False}],
    indirect=True,
    ids=["default", "oldest-first-documented-only"],
)


@pytest.fixture
async def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EmulatorHandle]:
    """A fresh emulator: fast clock, no faults, our test key (and a behaviour, when asked)."""
    behaviour: dict[str, Any] = getattr(request, "param", {})
    async with running_emulator(tmp_path / "emulator", speed=200.0, seed=7, **behaviour) as handle:
        yield handle


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
async def stack(settings: Settings, emulator: EmulatorHandle) -> AsyncIterator[Stack]:
    """The API on loopback, wired to the emulator; no worker yet (tests start theirs)."""
    sock = bind_socket()
    port = sock.getsockname()[1]
    wired = settings.model_copy(
        update={
            "valossa_base_url": emulator.url,
            "valossa_api_key": SecretStr(EMULATOR_KEY),
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
