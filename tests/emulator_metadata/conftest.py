"""Fixtures for the emulator's results generator: Valossa's real example files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from metadata_support import REAL_FULL, REAL_SUBSET


@pytest.fixture(scope="session")
def real_full() -> dict[str, Any]:
    """Valossa's real 113-minute example (format 1.3.1)."""
    return _example(REAL_FULL)


@pytest.fixture(scope="session")
def real_subset() -> dict[str, Any]:
    """The real example cut to 1590-1890 s."""
    return _example(REAL_SUBSET)


def _example(path: Path) -> dict[str, Any]:
    if not path.is_file():
        pytest.skip(f"Valossa's example {path.name} is not in ../shared/valossa-examples/")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc
