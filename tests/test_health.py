"""Liveness and readiness probes."""

from __future__ import annotations

import httpx
import psycopg
from sqlalchemy.engine import make_url

from service.main import create_app
from service.settings import Settings


async def test_healthz_answers(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_on_a_migrated_database(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


async def test_readyz_503_when_migrations_are_missing(
    settings: Settings, empty_database: str
) -> None:
    app = create_app(settings.model_copy(update={"database_url": _secret(empty_database)}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert "migration" in response.json()["reason"]


async def test_readyz_503_while_database_down_and_recovers(
    settings: Settings, empty_database: str, database_url: str
) -> None:
    """Point the app at a database that disappears, then comes back migrated."""
    app = create_app(settings.model_copy(update={"database_url": _secret(empty_database)}))
    libpq = make_url(empty_database).set(drivername="postgresql")
    admin = libpq.set(database="postgres").render_as_string(hide_password=False)
    name = libpq.database
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["reason"] == "database unreachable"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            from service.migrate import upgrade_to_head_async

            await upgrade_to_head_async(empty_database)
            up = await client.get("/readyz")
            assert up.status_code == 200, up.text


def _secret(url: str) -> object:
    from pydantic import SecretStr

    return SecretStr(url)
