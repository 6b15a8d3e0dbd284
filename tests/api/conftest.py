"""Fixtures of the CMS API tests: the API on the test database, the emulator as Valossa."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.settings import Settings
from tests.support.api import api_client
from tests.support.emulator import EmulatorHandle, running_emulator, settings_for


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[EmulatorHandle]:
    """The emulator on a loopback port, its job clock slowed so that jobs wait where put."""
    async with running_emulator(tmp_path / "emulator", speed=0.001) as handle:
        yield handle


@pytest.fixture
def emulated_settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Test settings pointing at the emulator."""
    return settings_for(settings, emulator)


@pytest.fixture
async def valossa_api(emulated_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API client whose Valossa is the emulator."""
    async with api_client(emulated_settings) as client:
        yield client
