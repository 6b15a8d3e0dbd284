"""The emulator app: Valossa's Core and Training API paths, the admin API, the job clock."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI

from service.emulator import admin_api, core_api, training_api, upload_api
from service.emulator.errors import install_error_handlers
from service.emulator.faults import FaultInjector
from service.emulator.lifecycle import resume, run_clock
from service.emulator.settings import EmulatorSettings
from service.emulator.state import EmulatorState

DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def create_emulator_app(settings: EmulatorSettings) -> FastAPI:
    """Build the emulator; with a data dir it resumes the state a previous run left there."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        temporary = settings.data_dir is None
        data_dir = Path(tempfile.mkdtemp(prefix="valossa-emulator-")) if temporary else None
        data_dir = data_dir or settings.data_dir
        assert data_dir is not None
        async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT) as client:
            state = await asyncio.to_thread(EmulatorState, settings, data_dir, client)
            app.state.emulator = state
            resume(state)
            clock = asyncio.create_task(run_clock(state))
            try:
                yield
            finally:
                clock.cancel()
                await asyncio.gather(clock, return_exceptions=True)
                await state.cancel_tasks()
                state.close()
                if temporary:
                    await asyncio.to_thread(shutil.rmtree, data_dir, True)

    app = FastAPI(
        title="Valossa emulator",
        description="A local Valossa Core and Training API with fault injection. "
        "Its state is kept in its data dir: a restart resumes every job.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(FaultInjector)
    for module in (core_api, upload_api, training_api, admin_api):
        app.include_router(module.router)
    return app
