"""Fixtures of the edge tests: the real `serve` process, reached over sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from service.models import Base
from tests.edge.live_service import LiveService, running_service


@pytest.fixture(scope="module")
def live(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """`valossa-ingest serve` for the module's tests; what they stored is removed afterwards."""
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with running_service(migrated_database, log_path) as service:
        yield service
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    libpq = make_url(migrated_database).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} CASCADE")


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where a test's own service writes its log."""
    return tmp_path
