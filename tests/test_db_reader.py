"""The Reader: statements on connections kept out of the pool, in autocommit.

It holds a few of the pool's connections for itself; whatever happens to a statement, the
pool must get back connections that sessions can use (not in autocommit, not mid-statement),
and errors must be SQLAlchemy's, as from a session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import Reader, make_engine, make_sessionmaker


@pytest.fixture
async def small_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, max_connections=3)
    yield engine
    await engine.dispose()


async def _backend_pid(reader: Reader) -> int:
    return int((await reader.rows("SELECT pg_backend_pid()", {}))[0][0])


async def test_it_keeps_at_most_its_connections_and_gives_them_back_on_close(
    small_engine: AsyncEngine,
) -> None:
    pool = small_engine.sync_engine.pool
    reader = Reader(small_engine, connections=2)
    rows = await asyncio.gather(*(reader.rows("SELECT pg_sleep(0.05), 1", {}) for _ in range(6)))
    assert [row[0][1] for row in rows] == [1] * 6
    assert pool.checkedout() == 2  # six statements, two connections, kept between statements
    await reader.close()
    assert pool.checkedout() == 0
    # Given back as sessions expect them: a statement starts a transaction again.
    async with make_sessionmaker(small_engine)() as session:
        connection = await session.connection()
        await connection.execute(text("SELECT 1"))
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        assert driver.autocommit is False
        assert driver.info.transaction_status == TransactionStatus.INTRANS


async def test_a_failed_statement_is_sqlalchemys_error_and_keeps_its_connection(
    small_engine: AsyncEngine,
) -> None:
    reader = Reader(small_engine, connections=1)
    pid = await _backend_pid(reader)
    with pytest.raises(sa_exc.ProgrammingError) as raised:
        await reader.rows("SELECT * FROM no_such_table WHERE x = %(x)s", {"x": "secret-value"})
    assert not raised.value.connection_invalidated
    assert "secret-value" not in str(raised.value)
    assert await _backend_pid(reader) == pid  # the same connection, still usable
    await reader.close()


async def test_a_statement_cancelled_half_way_leaves_nothing_behind(
    small_engine: AsyncEngine,
) -> None:
    pool = small_engine.sync_engine.pool
    reader = Reader(small_engine, connections=1)
    await _backend_pid(reader)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.rows("SELECT pg_sleep(5)", {}), timeout=0.2)
    # Psycopg cancels the statement at the server; the connection went back to the pool
    # (or was dropped, had it been left mid-statement), not into the Reader.
    assert pool.checkedout() == 0
    assert await reader.rows("SELECT 42", {}) == [(42,)]  # the next statement: its own answer
    await reader.close()
    assert pool.checkedout() == 0


async def test_a_statement_in_a_cancelled_anyio_scope_gives_its_connection_back(
    small_engine: AsyncEngine,
) -> None:
    """Starlette cancels through anyio scopes, where every await after the cancellation is
    cancelled again: the clean-up must still run to the end."""
    pool = small_engine.sync_engine.pool
    reader = Reader(small_engine, connections=1)
    await _backend_pid(reader)
    with anyio.move_on_after(0.2) as scope:
        await reader.rows("SELECT pg_sleep(5)", {})
    assert scope.cancelled_caught
    assert pool.checkedout() == 0
    assert await reader.rows("SELECT 42", {}) == [(42,)]
    await reader.close()
    assert pool.checkedout() == 0


async def test_a_connection_killed_under_it_is_invalidated_and_replaced(
    small_engine: AsyncEngine, database_url: str
) -> None:
    reader = Reader(small_engine, connections=1)
    pid = await _backend_pid(reader)
    killer = make_engine(database_url, max_connections=1)
    async with killer.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await killer.dispose()
    with pytest.raises(sa_exc.OperationalError) as raised:
        await _backend_pid(reader)
    assert raised.value.connection_invalidated  # what makes a GET run again (api/retry.py)
    assert await _backend_pid(reader) != pid
    await reader.close()
    assert small_engine.sync_engine.pool.checkedout() == 0
