"""Fixtures of the media-in tests: the end-to-end stack of tests/pipeline, and a source origin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.media_in.source_server import SourceServer, chunked, fixed

# The end-to-end fixtures (emulator, media files, API on loopback) are the pipeline's own.
from tests.pipeline.conftest import emulator, media_dir, media_url, stack

__all__ = ["emulator", "media_dir", "media_url", "stack"]


@pytest.fixture
def clip(media_dir: Path) -> bytes:
    """A small real video the emulator can analyse."""
    return (media_dir / "clip.mp4").read_bytes()


@pytest.fixture
async def origin(clip: bytes) -> AsyncIterator[SourceServer]:
    """The CMS's media server on loopback (reached with ALLOW_PRIVATE_SOURCE_URLS)."""
    routes = {"/clip.mp4": fixed(clip, Content_Type="video/mp4"), "/chunked.mp4": chunked(clip)}
    async with SourceServer(routes).running() as server:
        yield server
