"""The reads of one resource are one statement outside a transaction; writes stay transactional.

A transaction around a single SELECT adds two database round trips (BEGIN, COMMIT) and proves
nothing: one statement sees one snapshot by itself. The pool shares its connections between
both kinds of session, so a write after a read on the same connection must still be atomic.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import SessionMaker
from service.main import create_app
from service.settings import Settings
from tests.support.factories import insert_finished_analysis


@dataclass(frozen=True)
class Executed:
    """A statement the app ran, and whether its connection was inside a transaction after it."""

    statement: str
    transaction: TransactionStatus


@contextlib.contextmanager
def statements_of(engine: AsyncEngine) -> Iterator[list[Executed]]:
    """Every statement the engine runs inside the block."""
    seen: list[Executed] = []

    def record(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        status = conn.connection.driver_connection.info.transaction_status
        seen.append(Executed(statement.split(None, 1)[0], status))

    event.listen(engine.sync_engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", record)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://api.test",
        headers={"Authorization": "Bearer test-token"},
    ) as client:
        yield client


@pytest.mark.parametrize("resource", ["media", "analysis"])
async def test_reading_a_media_or_an_analysis_is_one_statement_outside_a_transaction(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: SessionMaker, resource: str
) -> None:
    older = await insert_finished_analysis(sessionmaker, customer_media_id="media-rt")
    newer = await insert_finished_analysis(
        sessionmaker, customer_media_id="media-rt", absent={"speech_to_text_srt": "no speech"}
    )
    path = "/v1/media/media-rt" if resource == "media" else f"/v1/analyses/{newer.id}"

    with statements_of(app.state.resources.engine) as seen:
        response = await client.get(path)

    assert response.status_code == 200, response.text
    assert [s.statement for s in seen] == ["SELECT"]
    assert seen[0].transaction == TransactionStatus.IDLE  # no BEGIN was sent, no COMMIT needed
    if resource == "media":
        assert response.json()["analyses_count"] == 2
        assert response.json()["latest_analysis"]["id"] == str(newer.id)
    else:
        assert set(response.json()["results"]) == {"core", "speech_to_text_srt"}
    assert older.id != newer.id


async def test_a_write_after_a_read_on_the_same_connection_is_still_a_transaction(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await insert_finished_analysis(sessionmaker, customer_media_id="media-rt")
    engine: AsyncEngine = app.state.resources.engine

    with statements_of(engine) as seen:
        for _ in range(3):  # the pool hands the same connection back and forth
            assert (await client.get("/v1/media/media-rt")).status_code == 200
            created = await client.post(
                "/v1/analyses",
                json={"customer_media_id": "media-rt", "video_url": "https://media.example/v.mp4"},
            )
            assert created.status_code == 202, created.text

    reads = [s for s in seen if s.statement == "SELECT" and s.transaction == TransactionStatus.IDLE]
    writes = [s for s in seen if s.statement == "INSERT"]
    assert len(reads) >= 3
    assert len(writes) >= 3
    assert all(s.transaction == TransactionStatus.INTRANS for s in writes)
    assert engine.sync_engine.pool.checkedout() == 0


async def test_connections_opened_for_a_burst_are_kept_for_the_next_one(app: FastAPI) -> None:
    """16 requests at once need 16 connections; the next 16 must not open them again (each is
    a Postgres backend forked and authenticated)."""
    engine: AsyncEngine = app.state.resources.engine
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(True))

    async def burst() -> None:
        held = [await engine.connect() for _ in range(16)]
        for connection in held:
            await connection.exec_driver_sql("SELECT 1")
        for connection in held:
            await connection.close()

    await burst()
    assert len(opened) == 16
    await burst()
    assert len(opened) == 16
    assert engine.sync_engine.pool.checkedin() == 16
