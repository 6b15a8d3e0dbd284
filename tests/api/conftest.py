"""Fixtures of the CMS API tests: the API on the test database, the emulator as Valossa."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_support import EMULATOR_KEY, Emulator, api_client
from pydantic import SecretStr

from service.emulator.app import create_emulator_app
from service.emulator.settings import EmulatorSettings
from service.serving import serve_in_background
from service.settings import Settings
from service.valossa import ValossaClient


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    """The emulator on a loopback port, its job clock slowed so that jobs wait where put."""
    settings = EmulatorSettings(
        api_keys=SecretStr(EMULATOR_KEY), speed=0.001, data_dir=tmp_path / "emulator"
    )
    async with (
        serve_in_background(create_emulator_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url) as admin,
        httpx.AsyncClient() as http,
    ):
        yield Emulator(
            server.url, admin, ValossaClient(http, api_key=EMULATOR_KEY, base_url=server.url)
        )


@pytest.fixture
def emulated_settings(settings: Settings, emulator: Emulator) -> Settings:
    """Test settings pointing at the emulator."""
    return settings.model_copy(
        update={"valossa_base_url": emulator.url, "valossa_api_key": SecretStr(EMULATOR_KEY)}
    )


@pytest.fixture
async def valossa_api(emulated_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API client whose Valossa is the emulator."""
    async with api_client(emulated_settings) as client:
        yield client
