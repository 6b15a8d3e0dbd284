"""Database plumbing: the declarative base, the async engine and the session factory."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, cast

import anyio
import psycopg
from sqlalchemy import DateTime, MetaData, Table, func
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

# Stable constraint names make Alembic's autogenerate and downgrades predictable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class TimestampMixin:
    """created_at / updated_at maintained by the database."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


def table_of(model: type[Base]) -> Table:
    """The table of an ORM class, for bulk writes: `insert(table_of(Model))` with a list of rows
    is one executemany, where `insert(Model)` is an ORM bulk insert that groups the rows by the
    columns they leave null and sends one INSERT per group."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


SessionMaker = async_sessionmaker[AsyncSession]

#: The errors a database call raises (a failed statement, or no connection from the pool).
DATABASE_FAILURES: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError)


def is_database_unavailable(exc: BaseException) -> bool:
    """True for a failure to reach or keep the database (as opposed to a bad query)."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    # The pool had no free connection in time.
    return isinstance(exc, sa_exc.TimeoutError)


#: How the service's connections are named in pg_stat_activity.
APPLICATION_NAME = "valossa-ingest"


def make_engine(
    database_url: str, *, max_connections: int = 20, pre_ping: bool = False
) -> AsyncEngine:
    """An async engine over psycopg 3, with at most `max_connections` connections.

    Every connection opened is kept for the next request (no "overflow" connections): with
    overflow, one opened for a burst was closed at its return whenever the pool's core sat
    idle, and opened again (a Postgres backend forked and authenticated) a moment later: for
    one request in ~14 under 16 concurrent requests.

    A connection that dies (a Postgres restart) fails the one statement that meets it; the
    error invalidates it and every connection pooled before it, so the next checkout opens
    fresh ones: the pool recovers by itself, so connections are not pinged before each use (a
    round trip per request; `pre_ping` turns it on). SQL parameters
    stay out of errors and logged tracebacks (they hold customer data and presigned URLs).
    """
    url = make_url(database_url)
    return create_async_engine(
        url,
        pool_size=max_connections,
        max_overflow=0,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        hide_parameters=True,
        # A name given in DATABASE_URL (?application_name=...) wins.
        connect_args={}
        if "application_name" in url.query
        else {"application_name": APPLICATION_NAME},
    )


def make_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    """Sessions that keep loaded attributes after commit (no implicit I/O afterwards)."""
    return async_sessionmaker(engine, expire_on_commit=False)


#: Connections the Reader keeps out of the pool, in autocommit (a request holds one ~0.2 ms).
READER_CONNECTIONS = 4


class Reader:
    """Runs one read-only statement outside any transaction, through psycopg directly.

    For the hottest reads (`GET /v1/media/{id}`, `GET /v1/analyses/{id}`). Through a session a
    statement cost ~0.25 ms of CPU before the ORM loaded a row, four times the statement
    itself; checking a connection out of the pool and switching it to autocommit and back
    still cost more than the statement. So the Reader keeps up to READER_CONNECTIONS of the
    engine's connections for itself, in autocommit, and runs statements on the driver: one
    round trip, no BEGIN or COMMIT (one statement sees one consistent snapshot by itself).
    Psycopg prepares a statement run five times on a connection, so the SQL is a constant.

    Errors are SQLAlchemy's, as from a session: a connection found dead is invalidated with
    every connection pooled before it (what SQLAlchemy does itself) and those the Reader
    keeps, and the error says `connection_invalidated`, so that a GET is answered again from
    a fresh connection (api/retry.py). A statement interrupted half-way costs its connection.
    """

    def __init__(self, engine: AsyncEngine, *, connections: int = READER_CONNECTIONS) -> None:
        self.engine = engine
        self._slots = asyncio.Semaphore(connections)
        # Each kept connection with its cursor: a new cursor per statement cost ~15 % of it.
        self._idle: list[tuple[PoolProxiedConnection, psycopg.AsyncCursor[Any]]] = []
        self._closed = False

    async def rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of `sql` run with `params` (psycopg's `%(name)s` placeholders)."""
        async with self._slots:
            if self._idle:
                pooled, cursor = self._idle.pop()
            else:
                pooled = await self._checkout()
                cursor = _driver(pooled).cursor()
            try:
                await cursor.execute(sql, params)
                rows = await cursor.fetchall()
            except psycopg.Error as exc:
                lost = self.engine.dialect.is_disconnect(cast(Any, exc), pooled, None)
                await self._discard(pooled, exc, server_lost=lost)
                raise _wrapped(exc, lost) from exc
            except BaseException as exc:  # cancelled half-way: the connection's state is unknown
                # Shielded: in a cancelled anyio scope every await is cancelled again, and the
                # connection would stay checked out of the pool for good.
                with anyio.CancelScope(shield=True):
                    await self._discard(pooled, exc, server_lost=False)
                raise
            if self._closed:
                await _give_back(pooled)
            else:
                self._idle.append((pooled, cursor))
            return rows

    async def close(self) -> None:
        """Give the kept connections back to the pool (before the engine is disposed)."""
        self._closed = True
        while self._idle:
            pooled, _ = self._idle.pop()
            await _give_back(pooled)

    async def _checkout(self) -> PoolProxiedConnection:
        try:
            pooled = await greenlet_spawn(self.engine.sync_engine.pool.connect)
        except psycopg.Error as exc:  # the pool itself does not wrap a failure to connect
            raise _wrapped(exc, False) from exc
        try:
            await _driver(pooled).set_autocommit(True)
        except BaseException:
            await greenlet_spawn(pooled.invalidate)
            raise
        return pooled

    async def _discard(
        self, pooled: PoolProxiedConnection, exc: BaseException, *, server_lost: bool
    ) -> None:
        if server_lost:
            # This one and every one older: the server went away (a restart, a failover).
            await greenlet_spawn(self.engine.sync_engine.pool._invalidate, pooled, exc)
            while self._idle:
                await greenlet_spawn(self._idle.pop()[0].invalidate, exc)
        elif _driver(pooled).info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            await _give_back(pooled)  # a failed statement: the connection itself is fine
        else:
            await greenlet_spawn(pooled.invalidate, exc)


def _driver(pooled: PoolProxiedConnection) -> psycopg.AsyncConnection[Any]:
    driver: psycopg.AsyncConnection[Any] = cast(Any, pooled.driver_connection)
    return driver


async def _give_back(pooled: PoolProxiedConnection) -> None:
    """Return a connection to the pool as sessions expect it (not in autocommit), or drop it
    when that cannot be done."""
    if pooled.is_valid and not _driver(pooled).closed:
        try:
            await _driver(pooled).set_autocommit(False)
        except psycopg.Error as exc:
            await greenlet_spawn(pooled.invalidate, exc)
    await greenlet_spawn(pooled.close)


def _wrapped(exc: psycopg.Error, connection_invalidated: bool) -> sa_exc.DBAPIError:
    """The SQLAlchemy error a session would have raised for `exc` (statement not included)."""
    wrapped = sa_exc.DBAPIError.instance(
        None,
        None,
        exc,
        psycopg.Error,
        hide_parameters=True,
        connection_invalidated=connection_invalidated,
    )
    assert isinstance(wrapped, sa_exc.DBAPIError)
    return wrapped
