"""Fixtures of the worker-step tests: the emulator as Valossa and a step context on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.analyses.steps.context import StepContext
from service.resources import open_resources
from service.settings import Settings
from service.worker import step_context
from tests.support.emulator import EmulatorHandle, running_emulator, settings_for


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[EmulatorHandle]:
    """The emulator with its clock nearly stopped: jobs stay where a test puts them."""
    async with running_emulator(tmp_path / "emulator", speed=0.001) as handle:
        yield handle


@pytest.fixture
def wired(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Test settings whose Valossa is the emulator."""
    return settings_for(settings, emulator)


@pytest.fixture
async def ctx(wired: Settings) -> AsyncIterator[StepContext]:
    """What a worker named "w" gives its steps."""
    async with open_resources(wired) as resources:
        yield step_context(resources, "w")
