"""Metadata downloads over a real socket keep the pool's connections, read whole or not.

A query cancelled half-way costs psycopg its connection ("query cancellation interrupted ...
closing connection"); the pool then closes or invalidates it. Neither may happen here.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses import results
from service.analyses.results import CHUNK_BYTES, SERVE_BATCH_CHUNKS, store_result
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
    per `read_batch`, which runs its query on the driver's cursor)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.lost: list[str] = []
        self.chunk_queries = 0

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

        async def counted(*args: Any) -> list[bytes]:
            self.chunk_queries += 1
            return await read_batch(*args)

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


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_a_download_read_to_the_end_asks_for_each_batch_once_and_keeps_the_connections(
    served: Served, encoding: str
) -> None:
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
    # Three chunks, read a batch at a time, three downloads: no query after the last chunk.
    assert watch.chunk_queries == 3 * math.ceil(3 / SERVE_BATCH_CHUNKS)
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
