"""Fixtures: a live emulator on loopback, a peer serving a real sample video, clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import httpx
import pytest
import uvloop
from emulator_support import API_KEY, OTHER_KEY, Peer
from pydantic import SecretStr

from service.emulator.app import create_emulator_app
from service.emulator.media import write_sample_video
from service.emulator.settings import EmulatorSettings
from service.process.serving import serve_in_background


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """uvloop: with client and server in one plain asyncio loop each round trip costs ~40 ms."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real media files, written once per worker: a 2 s MP4 with audio, an SRT, a web page."""
    directory = tmp_path_factory.mktemp("media")
    write_sample_video(directory / "clip.mp4", duration_s=2.0, width=160, height=120, fps=10)
    (directory / "clip.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,000\nHello there.\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\nGeneral Kenobi.\n"
    )
    (directory / "page.html").write_text("<!doctype html><html><body>video here</body></html>")
    (directory / "bad.srt").write_text("this is not a subtitle file at all")
    return directory


@pytest.fixture
def settings(tmp_path: Path) -> EmulatorSettings:
    """Fast settings: 1000x clock, short ticks, quick callback retry."""
    return EmulatorSettings(
        api_keys=SecretStr(f"{API_KEY},{OTHER_KEY}"),
        speed=1000.0,
        tick_s=0.01,
        data_dir=tmp_path / "emulator-data",
        callback_retry_delay_s=0.05,
        callback_timeout_s=1.0,
    )


@pytest.fixture
async def emulator_url(settings: EmulatorSettings) -> AsyncIterator[str]:
    """A live emulator on a loopback port."""
    async with serve_in_background(create_emulator_app(settings)) as server:
        yield server.url


@pytest.fixture
async def client(emulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for the emulator."""
    async with httpx.AsyncClient(base_url=emulator_url, timeout=10.0) as http:
        yield http


@pytest.fixture
def peer(media_dir: Path) -> Peer:
    """The peer's behaviour; tests tweak callback answers before use."""
    return Peer(files=media_dir)


@pytest.fixture
async def peer_url(peer: Peer) -> AsyncIterator[str]:
    """The peer served on loopback."""
    async with serve_in_background(peer.app()) as server:
        yield server.url
