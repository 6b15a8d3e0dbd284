"""A worker whose step slots are all taken still starts due downloads, and finds out that there
are none with one read, without opening a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses.lifecycle import Lifecycle, utcnow
from service.analyses.states import AnalysisStatus
from service.analyses.steps.source_claims import (
    ANY_DOWNLOAD_DUE_SQL,
    claim_downloads,
    downloads_due,
)
from service.db import Reader, SessionMaker
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
    sessionmaker: SessionMaker, engine: AsyncEngine, fields: dict[str, Any], due: bool
) -> None:
    await insert_analysis(sessionmaker, **fields)
    reader = Reader(engine)
    try:
        assert await downloads_due(reader) is due
    finally:
        await reader.close()
    async with sessionmaker() as session, session.begin():
        claimed = await claim_downloads(
            session,
            Lifecycle(actor="w", notify_cms=False),
            worker="w",
            max_in_flight=10,
            lease_s=60,
            download_deadline=timedelta(hours=1),
            limit=1,
        )
    assert bool(claimed) is due


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Statements run through SQLAlchemy (sessions, transactions); the Reader's are not."""
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql.split()[0])

    event.listen(Engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", statement)


async def test_a_worker_without_free_slots_reads_once_when_no_download_is_due(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_resources(settings) as resources:
        await insert_analysis(resources.sessionmaker)  # a submission: not for a full worker
        worker = Worker(resources, name="full", concurrency=0)
        worker._sweep_due = worker._index_due = False  # this round only, not the interval's
        read: list[str] = []
        rows = resources.reader.rows

        async def counted(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
            read.append(sql)
            return await rows(sql, params)

        monkeypatch.setattr(resources.reader, "rows", counted)
        with _statements() as seen:
            assert await worker.look_for_work() == 0
    assert seen == []  # no transaction
    assert read == [ANY_DOWNLOAD_DUE_SQL]


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
