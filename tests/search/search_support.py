"""Documents and helpers shared by the search tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.db import SessionMaker
from service.emulator.metadata import GalleryFace, ResultsInput, build_results
from service.emulator.metadata.core import build_core, typical_technical
from service.search.indexing import index_backlog
from tests.conftest import SHARED_DIR

EXAMPLES = SHARED_DIR / "valossa-examples"
REAL_EXAMPLE = EXAMPLES / "core-1.3.1-charade.json"
REAL_SUBSET = EXAMPLES / "core-1.3.1-charade-subset-1590-1890s.json"


def real_example(path: Path = REAL_EXAMPLE) -> bytes:
    """A real Valossa core document from ../shared, or skip the test saying why."""
    if not path.exists():
        pytest.skip(f"the real Valossa examples are not available ({path} is absent)")
    return path.read_bytes()


def emulated_input(
    job_id: str,
    *,
    minutes: float = 3.0,
    title: str | None = "Harbour at dawn",
    faces: tuple[GalleryFace, ...] = (),
) -> ResultsInput:
    """What the emulator would generate a job's results from (1.8.x, speech analysed)."""
    media: dict[str, Any] = {"video": {"url": "https://media.example/v.mp4"}}
    if title is not None:
        media["title"] = title
    return ResultsInput(job_id, {"media": media}, typical_technical(minutes * 60), None, faces)


def emulated_core(job_id: str, **options: Any) -> dict[str, Any]:
    """An emulator core document as a dict."""
    return build_core(emulated_input(job_id, **options)).doc


def emulated_results(job_id: str, **options: Any) -> dict[str, bytes]:
    """Every result type the emulator serves for a job, as bytes."""
    return build_results(emulated_input(job_id, **options))


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


async def drain_backlog(sessionmaker: SessionMaker) -> None:
    """Index everything queued (as the worker's sweep would)."""
    while await index_backlog(sessionmaker):
        pass
