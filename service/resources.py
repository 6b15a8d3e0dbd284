"""What a process needs at run time, built once by its composition root and closed at exit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import SessionMaker, make_engine, make_sessionmaker
from service.migrate import head_revisions
from service.settings import Settings, SettingsError


@dataclass
class Resources:
    """Settings, database and (later) the Valossa client of one process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    expected_revisions: set[str]


@contextlib.asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Build the process's resources from settings and dispose of them on exit."""
    if settings.database_url is None:
        raise SettingsError("DATABASE_URL is not set")
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        yield Resources(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            expected_revisions=head_revisions(),
        )
    finally:
        await engine.dispose()
