"""Database URL helpers: the psycopg 3 driver name and password masking."""

from __future__ import annotations

from sqlalchemy.engine import make_url

#: Said instead of a parser's own message, which may quote a part of the URL (the password).
INVALID_DATABASE_URL = (
    "DATABASE_URL is not a valid URL (postgresql+psycopg://user:pass@host:5432/db)"
)


def normalize_database_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and select the psycopg 3 driver.

    Raises ValueError with a message that never quotes the URL.
    """
    try:
        parsed = make_url(url.strip())
        parsed.port  # noqa: B018 (a malformed port only fails when read)
    except Exception:
        raise ValueError(INVALID_DATABASE_URL) from None
    if parsed.drivername == "postgres":
        parsed = parsed.set(drivername="postgresql")
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg://...)")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def mask_password(url: str) -> str:
    """The URL with its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def database_host(url: str) -> str:
    """Where a database URL points (host:port, or the socket directory), for error messages."""
    parsed = make_url(url)
    host = parsed.host or str(parsed.query.get("host", "localhost"))
    return f"{host}:{parsed.port}" if parsed.port else host
