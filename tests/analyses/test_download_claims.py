"""A worker whose step slots are all taken still starts due downloads, and finds out that there
are none with one read in autocommit, without opening a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from service.analyses.lifecycle import utcnow
from service.analyses.states import AnalysisStatus
from service.analyses.steps.source_claims import downloads_due
from service.db import SessionMaker
from service.resources import open_resources
from service.settings import Settings
from service.worker import Worker
from tests.support.factories import analysis_row, insert_analysis

SOURCE = {"video_url": None, "source_url": "https://media.example/v.mp4"}
PAST = utcnow() - timedelta(seconds=5)
FUTURE = utcnow() + timedelta(hours=1)


@pytest.mark.parametrize(
    ("fields", "due"),
    [
        ({**SOURCE}, True),
        ({**SOURCE, "next_attempt_at": PAST}, True),
        ({**SOURCE, "next_attempt_at": FUTURE}, False),
        ({"video_url": "https://media.example/v.mp4"}, False),  # Valossa downloads it
        ({**SOURCE, "status": AnalysisStatus.DOWNLOADING, "next_attempt_at": PAST}, True),
        (
            {
                **SOURCE,
                "status": AnalysisStatus.DOWNLOADING,
                "next_attempt_at": PAST,
                "claimed_by": "w#1",
                "claimed_until": FUTURE,
            },
            False,
        ),
        (
            {
                **SOURCE,
                "status": AnalysisStatus.DOWNLOADING,
                "next_attempt_at": PAST,
                "claimed_by": "w#1",
                "claimed_until": PAST,
            },
            True,
        ),
        ({**SOURCE, "status": AnalysisStatus.CANCELED}, False),
    ],
)
async def test_downloads_due_finds_what_claim_downloads_takes(
    sessionmaker: SessionMaker, fields: dict[str, Any], due: bool
) -> None:
    await insert_analysis(sessionmaker, **fields)
    async with sessionmaker() as session:
        assert await downloads_due(session) is due


@contextmanager
def _statements() -> Iterator[list[tuple[str, bool]]]:
    """Each statement's verb, and whether it ran in autocommit (no BEGIN, no COMMIT)."""
    seen: list[tuple[str, bool]] = []

    def statement(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        driver = conn.connection.driver_connection
        seen.append((sql.split()[0], bool(driver.autocommit)))

    event.listen(Engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", statement)


async def test_a_worker_without_free_slots_reads_once_when_no_download_is_due(
    settings: Settings,
) -> None:
    async with open_resources(settings) as resources:
        await insert_analysis(resources.sessionmaker)  # a submission: not for a full worker
        worker = Worker(resources, name="full", concurrency=0)
        worker._sweep_due = worker._index_due = False  # this round only, not the interval's
        with _statements() as seen:
            assert await worker.look_for_work() == 0
    assert seen == [("SELECT", True)]


async def test_a_worker_without_free_slots_still_starts_a_due_download(
    settings: Settings,
) -> None:
    async with open_resources(settings) as resources:
        row = await insert_analysis(resources.sessionmaker, **SOURCE)
        worker = Worker(resources, name="full", concurrency=0)
        worker._sweep_due = worker._index_due = False
        assert await worker.look_for_work() == 1
        # Claimed, and started: stopped before it runs (the download itself is not tested).
        started = list(worker._downloads)
        for task in started:
            task.cancel()
        await asyncio.gather(*started, return_exceptions=True)
        after = await analysis_row(resources.sessionmaker, row.id)
    assert after.status == AnalysisStatus.DOWNLOADING
    assert after.claimed_by is not None
    assert after.claimed_by.startswith("full#")
