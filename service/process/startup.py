"""Start-up checks that turn a wrong configuration into one clear line instead of a traceback."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from service.settings import Settings
from service.urls import database_host


class DatabaseUnreachable(Exception):
    """The database named by DATABASE_URL does not answer; the message masks the password."""


async def check_database(settings: Settings, *, timeout_s: float = 5.0) -> None:
    """Connect once to DATABASE_URL; raise DatabaseUnreachable naming the host if that fails."""
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    libpq_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = await psycopg.AsyncConnection.connect(
            libpq_url, connect_timeout=max(1, int(timeout_s))
        )
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnreachable(
            f"cannot connect to the database at {database_host(url)} "
            f"({settings.database_url_masked}): {_without_secrets(reason, url)}"
        ) from None
    await connection.close()


def _without_secrets(reason: str, url: str) -> str:
    password = make_url(url).password
    return reason.replace(password, "***") if password else reason
