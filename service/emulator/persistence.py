"""The emulator's state on disk: one SQLite file in its data dir (`state.sqlite3`).

Why SQLite and not a JSON file renamed into place: every change (a job created, a chunk
received, a callback attempted) is one small transaction, committed before the answer that
reports it leaves. A snapshot file would have to rewrite every job on every change, or batch
changes and lose the latest ones in a crash. In WAL mode with synchronous=NORMAL a commit is a
write into the log without an fsync: a killed emulator keeps everything it answered (only a
power cut may lose the last commits, acceptable for a test double).

Each record is a JSON object under (kind, key); insertion order is the table's rowid, which an
upsert keeps, so jobs come back in creation order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATE_FILE = "state.sqlite3"
#: Bump when a record's shape changes incompatibly; an older file is then set aside.
SCHEMA_VERSION = 1
#: What the data dir holds besides the state file (all of it is set aside together).
STATE_DIRS = ("jobs", "uploads", "images")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)
"""

Row = tuple[str, str, dict[str, Any]]


class BrokenState(Exception):
    """The state file cannot be used: not SQLite, damaged, or written by another version."""


class StateStore:
    """Records in one SQLite file; each put or delete commits unless inside `batch()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._depth = 0
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._check_version()
        except Exception:
            self._db.close()
            raise

    def _check_version(self) -> None:
        row = self._db.execute(
            "SELECT data FROM records WHERE kind = 'meta' AND key = 'schema'"
        ).fetchone()
        if row is None:
            (count,) = self._db.execute("SELECT count(*) FROM records").fetchone()
            if count:
                raise BrokenState("it has records but no schema version")
            self.put("meta", "schema", {"version": SCHEMA_VERSION})
            return
        version = json.loads(row[0]).get("version")
        if version != SCHEMA_VERSION:
            raise BrokenState(
                f"it was written in format {version}, this emulator reads {SCHEMA_VERSION}"
            )

    def rows(self) -> list[Row]:
        """Every record in insertion order (the schema row left out)."""
        cursor = self._db.execute("SELECT kind, key, data FROM records ORDER BY rowid")
        return [
            (kind, key, json.loads(data))
            for kind, key, data in cursor
            if (kind, key) != ("meta", "schema")
        ]

    def put(self, kind: str, key: str, data: Mapping[str, Any]) -> None:
        """Insert or replace one record."""
        self._db.execute(
            "INSERT INTO records (kind, key, data) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
            (kind, key, json.dumps(data, separators=(",", ":"))),
        )

    def delete(self, kind: str, key: str) -> None:
        """Remove one record (nothing happens if it is not there)."""
        self._db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def clear(self) -> None:
        """Remove every record but the schema version."""
        self._db.execute("DELETE FROM records WHERE NOT (kind = 'meta' AND key = 'schema')")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group the puts and deletes of the block into one transaction."""
        if self._depth == 0:
            self._db.execute("BEGIN")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the file."""
        self._db.close()


def open_store(data_dir: Path) -> tuple[StateStore, list[Row]]:
    """The data dir's store and its records; an unusable state is set aside for a clean start."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / STATE_FILE
    try:
        store = StateStore(path)
        return store, store.rows()
    except (sqlite3.DatabaseError, BrokenState, ValueError) as exc:
        set_aside(data_dir, f"{type(exc).__name__}: {exc}")
        return StateStore(path), []


def set_aside(data_dir: Path, reason: str) -> Path:
    """Move the state file and the files it describes to `broken-<time>/`; return that dir."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = data_dir / f"broken-{stamp}"
    target.mkdir()
    for name in (STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", *STATE_DIRS):
        source = data_dir / name
        if source.exists():
            source.rename(target / name)
    logger.warning(
        "The emulator state in %s cannot be used (%s); it was moved to %s and the emulator "
        "starts empty: jobs, uploads and galleries from before are forgotten.",
        data_dir / STATE_FILE,
        reason,
        target,
    )
    return target
