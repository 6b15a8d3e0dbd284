"""Fixtures for the emulator's results generator: Valossa's real example files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from metadata_support import REAL_FULL, REAL_SUBSET


@pytest.fixture(scope="session")
def real_full() -> dict[str, Any]:
    """Valossa's real 113-minute example (format 1.3.1)."""
    doc: dict[str, Any] = json.loads(REAL_FULL.read_text())
    return doc


@pytest.fixture(scope="session")
def real_subset() -> dict[str, Any]:
    """The real example cut to 1590-1890 s."""
    doc: dict[str, Any] = json.loads(REAL_SUBSET.read_text())
    return doc
