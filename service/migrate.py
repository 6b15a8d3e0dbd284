"""Schema migrations: run Alembic from code and tell whether a database is at head."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for `database_url`, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    # ConfigParser interpolation would eat a % in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revisions() -> set[str]:
    """The revision ids the code expects the database to be at."""
    script = ScriptDirectory.from_config(alembic_config("postgresql+psycopg://"))
    return set(script.get_heads())


def upgrade_to_head(database_url: str) -> None:
    """Apply every pending migration (blocking)."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head_async(database_url: str) -> None:
    """Apply every pending migration without blocking the event loop."""
    await asyncio.to_thread(upgrade_to_head, database_url)


async def database_revisions(engine: AsyncEngine) -> set[str]:
    """Connect and read the revisions the database is at; raises if it cannot be reached."""
    async with engine.connect() as connection:
        return await current_revisions(connection)


async def current_revisions(connection: AsyncConnection) -> set[str]:
    """The revisions the connected database is at (empty if never migrated)."""

    def read(sync_connection: object) -> set[str]:
        context = MigrationContext.configure(sync_connection)  # type: ignore[arg-type]
        return set(context.get_current_heads())

    return await connection.run_sync(read)
