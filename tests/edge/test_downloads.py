"""Metadata downloads over a real socket keep the pool's connections, read whole or not.

A query cancelled half-way costs psycopg its connection ("query cancellation interrupted ...
closing connection"); the pool then closes or invalidates it. Neither may happen here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses import results
from service.analyses.results import (
    CHUNK_BYTES,
    FIRST_BATCH_CHUNKS,
    ResultBody,
    store_result,
    stream_result,
)
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from service.main import create_app
from service.process.serving import serve_in_background
from service.settings import Settings
from tests.support.api import AUTH
from tests.support.factories import insert_analysis
from tests.support.waiting import eventually

#: Two and a half stored chunks.
CORE = b'{"pad": "' + b"0123456789" * (CHUNK_BYTES // 4) + b'"}'


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 300_000):
        yield data[start : start + 300_000]


class PoolWatch:
    """Counts what the app's pool does: connections lost, and queries for result chunks (one
    per `read_batch`, which runs its query on the driver's cursor). With `hold_read_ahead`,
    every batch after the first waits for `release` before its query (the client can leave
    while it is read ahead)."""

    def __init__(self, engine: AsyncEngine, *, hold_read_ahead: bool = False) -> None:
        self.engine = engine
        self.lost: list[str] = []
        self.chunk_queries = 0
        self.finished = 0
        self.cancelled = 0
        self.hold_read_ahead = hold_read_ahead
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        sync = self.engine.sync_engine
        handlers: list[tuple[Any, str, Any]] = [
            (sync.pool, name, self._losing(name))
            for name in ("close", "invalidate", "soft_invalidate", "close_detached")
        ]
        for target, name, handler in handlers:
            event.listen(target, name, handler)
        read_batch = results.read_batch

        async def counted(
            sessionmaker: SessionMaker, body: ResultBody, first_seq: int, count: int
        ) -> Any:
            self.chunk_queries += 1
            try:
                if first_seq > 0 and self.hold_read_ahead:
                    self.held.set()
                    await self.release.wait()
                batch = await read_batch(sessionmaker, body, first_seq, count)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            self.finished += 1
            return batch

        results.read_batch = counted
        try:
            yield
        finally:
            results.read_batch = read_batch
            for target, name, handler in handlers:
                event.remove(target, name, handler)

    def _losing(self, name: str) -> Any:
        def record(*_: Any) -> None:
            self.lost.append(name)

        return record


def batches_of(monkeypatch: pytest.MonkeyPatch, batch_chunks: int) -> None:
    """Serve stored results `batch_chunks` chunks per query, the first and the next ones."""
    monkeypatch.setattr(results, "FIRST_BATCH_CHUNKS", batch_chunks)
    monkeypatch.setattr(results, "MAX_BATCH_CHUNKS", batch_chunks)


def reading_ahead() -> list[str]:
    """The names of the tasks that read a batch ahead, still running."""
    return [
        task.get_name()
        for task in asyncio.all_tasks()
        if task.get_name().startswith(results.READ_AHEAD_TASK) and not task.done()
    ]


@dataclass
class Served:
    """The API on a loopback port, and its engine."""

    url: str
    engine: AsyncEngine


@pytest.fixture
async def served(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[Served]:
    analysis = await insert_analysis(
        sessionmaker, customer_media_id="big", status=AnalysisStatus.FINISHED, result_types=["core"]
    )
    async with sessionmaker() as session, session.begin():
        await store_result(
            session, analysis.id, "core", _pieces(CORE), content_type="application/json"
        )
    app = create_app(settings)
    async with serve_in_background(app) as server:
        yield Served(url=server.url, engine=app.state.resources.engine)


@pytest.mark.parametrize("batch_chunks", [1, FIRST_BATCH_CHUNKS])
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_a_download_read_to_the_end_asks_for_each_batch_once_and_keeps_the_connections(
    served: Served, encoding: str, batch_chunks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches_of(monkeypatch, batch_chunks)
    watch = PoolWatch(served.engine)
    with watch.listening():
        for _ in range(3):
            async with httpx.AsyncClient(base_url=served.url, headers=AUTH) as client:
                response = await client.get(
                    "/v1/media/big/metadata", headers={"Accept-Encoding": encoding}
                )
            # The client is gone now, as a CMS that closes its connection after the body.
            assert response.status_code == 200
            assert hashlib.sha256(response.content).digest() == hashlib.sha256(CORE).digest()
        await eventually(lambda: watch.engine.sync_engine.pool.checkedout() == 0, within=10)
    # Three chunks, read a batch at a time (the next while one is sent), three downloads: no
    # query after the last chunk.
    assert watch.chunk_queries == watch.finished == 3 * math.ceil(3 / batch_chunks)
    assert watch.lost == []


async def test_a_client_leaving_mid_download_costs_no_connection(served: Served) -> None:
    watch = PoolWatch(served.engine)
    with watch.listening():
        for _ in range(5):
            async with (
                httpx.AsyncClient(base_url=served.url, headers=AUTH) as client,
                client.stream("GET", "/v1/media/big/metadata") as response,
            ):
                assert response.status_code == 200
                async for _piece in response.aiter_raw():
                    break  # hang up after the first bytes
        await eventually(lambda: watch.engine.sync_engine.pool.checkedout() == 0, within=10)
    assert watch.lost == []


async def test_a_client_leaving_while_the_next_batch_is_read_ahead_costs_nothing(
    served: Served, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch read ahead for a client that is gone ends its query and returns its
    connection; no task is left behind and asyncio has nothing to complain about."""
    batches_of(monkeypatch, 1)
    caplog.set_level(logging.WARNING, logger="asyncio")
    watch = PoolWatch(served.engine, hold_read_ahead=True)
    with watch.listening():
        for _ in range(3):
            watch.held.clear()
            watch.release.clear()
            async with (
                httpx.AsyncClient(base_url=served.url, headers=AUTH) as client,
                client.stream("GET", "/v1/media/big/metadata") as response,
            ):
                assert response.status_code == 200
                async for _piece in response.aiter_raw():
                    break  # hang up after the first bytes, the second chunk being read ahead
                await asyncio.wait_for(watch.held.wait(), 10)
            watch.release.set()

            def settled() -> bool:
                gc.collect()  # an abandoned response body is closed when collected
                pool = watch.engine.sync_engine.pool
                return not reading_ahead() and pool.checkedout() == 0

            await eventually(settled, within=10)
    assert watch.cancelled == 0
    assert watch.finished == watch.chunk_queries
    assert watch.lost == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


@pytest.fixture
async def stored_core(sessionmaker: SessionMaker) -> ResultBody:
    """CORE stored as the core of a finished analysis."""
    analysis = await insert_analysis(
        sessionmaker, customer_media_id="big", status=AnalysisStatus.FINISHED, result_types=["core"]
    )
    async with sessionmaker() as session, session.begin():
        record = await store_result(
            session, analysis.id, "core", _pieces(CORE), content_type="application/json"
        )
    assert record.size_bytes is not None
    assert record.sha256 is not None
    return ResultBody(analysis.id, "core", "application/json", record.size_bytes, record.sha256)


async def test_the_next_batch_is_read_while_one_is_sent_and_closing_waits_for_it(
    engine: AsyncEngine,
    sessionmaker: SessionMaker,
    stored_core: ResultBody,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches_of(monkeypatch, 1)
    watch = PoolWatch(engine, hold_read_ahead=True)
    with watch.listening():
        chunks = stream_result(sessionmaker, stored_core)
        assert await anext(chunks) == CORE[:CHUNK_BYTES]
        # Handed the first chunk, the consumer sends it while the second is read.
        assert len(reading_ahead()) == 1
        await asyncio.wait_for(watch.held.wait(), 10)
        # The consumer stops there: closing waits for the read ahead to end its query.
        closing = asyncio.create_task(chunks.aclose())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not closing.done()
        watch.release.set()
        await closing
        assert reading_ahead() == []
    assert (watch.chunk_queries, watch.finished, watch.cancelled) == (2, 2, 0)
    assert engine.sync_engine.pool.checkedout() == 0
    assert watch.lost == []


@pytest.mark.parametrize(
    "damage",
    [
        # The first chunk says it holds the whole result: nothing is read after it.
        "UPDATE result_chunks SET data = '\\xffffff00'::bytea || substring(data from 5)"
        " WHERE seq = 0",
        "DELETE FROM result_chunks WHERE seq = 1",
    ],
    ids=["a chunk holding fewer bytes than it says", "a chunk missing"],
)
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_a_download_of_damaged_chunks_is_never_a_whole_response(
    served: Served,
    sessionmaker: SessionMaker,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    damage: str,
) -> None:
    """The client sees the connection close short of the response, as for an unreadable chunk;
    gzipped (no Content-Length) it must not get a complete gzip stream of the bytes before."""
    batches_of(monkeypatch, 1)
    async with sessionmaker() as session, session.begin():
        await session.execute(text(damage))
    async with httpx.AsyncClient(base_url=served.url, headers=AUTH) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/v1/media/big/metadata", headers={"Accept-Encoding": encoding})
