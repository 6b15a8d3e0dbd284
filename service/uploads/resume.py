"""Where the CLI remembers uploads under way, so an interrupted upload resumes where it was.

One small JSON file in the user's cache directory (`$XDG_CACHE_HOME/valossa-ingest/`, by
default `~/.cache/valossa-ingest/uploads.json`). An entry is keyed by the service and by the
file's absolute path, size and modification time: a file changed since is a new upload.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

#: Entries older than this are dropped (the service has long expired such uploads).
_KEEP_S = 14 * 24 * 3600


def default_path() -> Path:
    """The resume file in the user's cache directory."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "valossa-ingest" / "uploads.json"


def file_key(service_url: str, path: Path) -> str:
    """The key of one file's upload to one service: path, size and modification time."""
    stat = path.stat()
    identity = f"{service_url.rstrip('/')}\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()


class ResumeFile:
    """Upload ids by file key, read and written whole (it holds a few lines)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def upload_id(self, key: str) -> str | None:
        """The upload under way for this file, if any."""
        entry = self._read().get(key)
        return str(entry["upload_id"]) if isinstance(entry, dict) else None

    def remember(self, key: str, upload_id: str, filename: str) -> None:
        """Note the upload of a file (before its first chunk is sent)."""
        entries = self._read()
        entries[key] = {"upload_id": upload_id, "file": filename, "saved_at": time.time()}
        self._write(entries)

    def forget(self, key: str) -> None:
        """The file's upload is done (or gone)."""
        entries = self._read()
        if entries.pop(key, None) is not None:
            self._write(entries)

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        oldest = time.time() - _KEEP_S
        return {
            key: entry
            for key, entry in data.items()
            if isinstance(entry, dict) and float(str(entry.get("saved_at", 0))) > oldest
        }

    def _write(self, entries: dict[str, dict[str, object]]) -> None:
        with contextlib.suppress(OSError):  # resuming is a convenience; never fail the upload
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(entries, indent=1))
            temporary.replace(self.path)
