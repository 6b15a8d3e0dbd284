"""What the test database's server can do, asked of the server itself."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url


def libpq_url(database_url: str) -> str:
    """The URL as libpq takes it (postgresql://, no driver)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def server_has_lz4(database_url: str) -> bool:
    """Whether the server accepts lz4 as its TOAST compression: it refuses an unknown value
    of `default_toast_compression` (before 14 there is no such setting: no lz4 either)."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        try:
            conn.execute("SET LOCAL default_toast_compression = 'lz4'")
        except (psycopg.errors.InvalidParameterValue, psycopg.errors.UndefinedObject):
            return False
        return True
