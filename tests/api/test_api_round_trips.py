"""The reads of one resource are one statement outside a transaction; writes stay transactional.

A transaction around a single SELECT adds two database round trips (BEGIN, COMMIT) and proves
nothing: one statement sees one snapshot by itself. The Reader's connections come from the
same pool and go back to it, so a write on one of them afterwards must still be atomic.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg.pq import TransactionStatus
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses import queries
from service.db import Reader, SessionMaker, make_engine, make_sessionmaker
from service.main import create_app
from service.settings import Settings
from tests.support.factories import insert_finished_analysis


@dataclass(frozen=True)
class Executed:
    """A statement the app ran, and whether its connection was inside a transaction after it."""

    statement: str
    transaction: TransactionStatus


@contextlib.contextmanager
def statements_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Executed]]:
    """Every statement sent through psycopg inside the block (through a session or the
    Reader), with its connection's transaction status right after it."""
    seen: list[Executed] = []
    execute = psycopg.AsyncCursor.execute

    async def record(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        result = await execute(cursor, query, *args, **kwargs)
        status = cursor.connection.info.transaction_status
        seen.append(Executed(str(query).split(None, 1)[0].upper(), status))
        return result

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.AsyncCursor, "execute", record)
        yield seen


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
    app: FastAPI,
    client: httpx.AsyncClient,
    sessionmaker: SessionMaker,
    resource: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    older = await insert_finished_analysis(sessionmaker, customer_media_id="media-rt")
    newer = await insert_finished_analysis(
        sessionmaker, customer_media_id="media-rt", absent={"speech_to_text_srt": "no speech"}
    )
    path = "/v1/media/media-rt" if resource == "media" else f"/v1/analyses/{newer.id}"

    await client.get(path)  # the first one may open the connection (SQLAlchemy's set-up)
    with statements_of(monkeypatch) as seen:
        response = await client.get(path)

    assert response.status_code == 200, response.text
    assert [s.statement for s in seen] == ["WITH" if resource == "media" else "SELECT"]
    assert seen[0].transaction == TransactionStatus.IDLE  # no BEGIN was sent, no COMMIT needed
    if resource == "media":
        assert response.json()["analyses_count"] == 2
        assert response.json()["latest_analysis"]["id"] == str(newer.id)
    else:
        assert set(response.json()["results"]) == {"core", "speech_to_text_srt"}
    assert older.id != newer.id


async def test_a_write_on_a_connection_the_reader_gave_back_is_still_a_transaction(
    settings: Settings, sessionmaker: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    await insert_finished_analysis(sessionmaker, customer_media_id="media-rt")
    # A pool of one connection: the Reader's and the sessions' are the same one.
    engine = make_engine(settings.database_url.get_secret_value(), max_connections=1)
    reader, sessions = Reader(engine), make_sessionmaker(engine)
    try:
        with statements_of(monkeypatch) as seen:
            for _ in range(3):
                assert await queries.media_state(reader, "media-rt") is not None
                await reader.close()  # gives the connection back: the session takes it
                async with sessions() as session, session.begin():
                    await session.execute(
                        text("UPDATE analyses SET updated_at = now() WHERE customer_media_id = :m"),
                        {"m": "media-rt"},
                    )
                reader = Reader(engine)
        assert engine.sync_engine.pool.checkedout() == 0
    finally:
        await reader.close()
        await engine.dispose()

    reads = [s for s in seen if s.statement == "WITH"]
    writes = [s for s in seen if s.statement == "UPDATE"]
    assert len(reads) == 3
    assert all(s.transaction == TransactionStatus.IDLE for s in reads)
    assert len(writes) == 3
    assert all(s.transaction == TransactionStatus.INTRANS for s in writes)


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


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "idempotency-key"])
async def test_creating_an_analysis_sends_only_what_it_needs(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, with_key: bool
) -> None:
    """Two INSERTs and the NOTIFY; a savepoint only around a race that can be lost (the
    idempotency key); no SELECT to read back what the INSERT already returned."""
    body = {"customer_media_id": "media-rt", "video_url": "https://media.example/v.mp4"}
    headers = {"Idempotency-Key": "key-1"} if with_key else {}
    warm_up = await client.post("/v1/analyses", json={**body, "customer_media_id": "other"})
    assert warm_up.status_code == 202  # the first may open the connection (SQLAlchemy's set-up)
    with statements_of(monkeypatch) as seen:
        created = await client.post("/v1/analyses", json=body, headers=headers)
    assert created.status_code == 202, created.text
    expected = ["INSERT", "INSERT", "NOTIFY"]
    if with_key:
        expected = ["SELECT", "SAVEPOINT", "INSERT", "INSERT", "RELEASE", "NOTIFY"]
    assert [s.statement for s in seen] == expected
    assert all(s.transaction == TransactionStatus.INTRANS for s in seen)
    view = created.json()
    assert view["created_at"] == view["updated_at"]
    shown = await client.get(created.headers["location"])
    assert shown.json() == {**view, "overdue": shown.json()["overdue"]}


async def test_the_media_statement_reads_only_the_media_s_own_analyses(
    sessionmaker: SessionMaker,
) -> None:
    """Whatever the table's statistics say (here none yet, as right after a bulk load), the
    plan reaches the media's analyses by the media index, never by walking every finished
    analysis through the status index."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO analyses (id, customer_media_id, status, language, result_types)"
                " SELECT gen_random_uuid(), 'bulk-' || n, 'finished', 'en-US', '{core}'"
                " FROM generate_series(1, 3000) AS n"
            )
        )
    await insert_finished_analysis(sessionmaker, customer_media_id="media-plan")
    sql = queries._MEDIA_STATE_SQL.replace("%(customer_media_id)s", "'media-plan'")
    async with sessionmaker() as session:
        plan = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()

    def indexes(node: dict[str, Any]) -> set[str]:
        found = {node["Index Name"]} if "Index Name" in node else set()
        for child in node.get("Plans", []):
            found |= indexes(child)
        return found

    used = indexes(plan[0]["Plan"])
    assert "ix_analyses_status_created" not in used, used
