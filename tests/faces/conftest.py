"""Fixtures of the face gallery tests: the API on the test database, the emulator as Valossa."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.main import create_app
from service.process.serving import serve_in_background
from service.settings import Settings
from tests.conftest import REPO_ROOT
from tests.support.api import api_client
from tests.support.emulator import EmulatorHandle, running_emulator, settings_for


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`valossa-ingest ARGS` in a new process with `env` over the environment (less any
    VALOSSA_* and DATABASE_URL of the caller's)."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("VALOSSA_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        env={**inherited, **env},
        cwd=REPO_ROOT,
        timeout=120,
    )


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[EmulatorHandle]:
    """The emulator on a loopback port, seeded so that fault rolls repeat."""
    async with running_emulator(tmp_path / "emulator", seed=7) as handle:
        yield handle


@pytest.fixture
def faces_settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Test settings whose Valossa is the emulator."""
    return settings_for(settings, emulator)


@pytest.fixture
async def api(faces_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A CMS client of the API (in-process), authenticated with a test token."""
    async with api_client(faces_settings) as client:
        client.headers["Authorization"] = "Bearer test-token"
        yield client


@pytest.fixture
async def served_api(faces_settings: Settings) -> AsyncIterator[str]:
    """The API on a loopback port (for the CLI, a separate process); its URL."""
    async with serve_in_background(create_app(faces_settings)) as server:
        yield server.url
