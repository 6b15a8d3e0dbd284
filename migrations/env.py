"""Alembic environment: runs migrations over a synchronous psycopg 3 connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from service.models import Base
from service.settings import load_settings

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    """The URL set by service.migrate, or DATABASE_URL when alembic is run by hand."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    settings = load_settings()
    if settings.database_url is None:
        raise SystemExit("DATABASE_URL is not set")
    return settings.database_url.get_secret_value()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (alembic upgrade --sql)."""
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations in one transaction on a fresh connection."""
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
