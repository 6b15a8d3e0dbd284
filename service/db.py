"""Database plumbing: the declarative base, the async engine and the session factory."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

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


def make_read_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    """Sessions whose statements run in autocommit: for a request that reads with one
    statement, which sees one consistent snapshot by itself. No BEGIN and no COMMIT: one round
    trip per statement instead of three. Never for writes or for reads that must agree."""
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
