"""The throw-away peers `scripts/image_check.sh` runs the image against, gone when stdin closes.

Run with the project's virtualenv (`make install`: the [dev] extra brings the emulator and the
embedded Postgres, which the image itself does not carry). It prints one JSON line:

- `database_url`: a database made for this run, on the machine's Postgres at 127.0.0.1:5432
  (user postgres, trust) when it answers, else on an embedded Postgres (pgserver) that listens
  on a Unix socket only, reached through a TCP relay on 127.0.0.1 (the container runs as uid
  10001 and could not enter the socket's directory); IMAGE_CHECK_EMBEDDED_POSTGRES=1 forces
  the embedded one;
- `valossa_base_url`, `valossa_api_key`, `emulator_admin_url`: the Valossa emulator;
- `video_url`: a sample video served over HTTP, for the emulator to download.

When stdin reaches end-of-file (the check finished, failed or was killed) it stops the servers
and drops the database (WITH (FORCE): a container may still hold connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
from psycopg import sql
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.emulator.app import create_emulator_app
from service.emulator.media import write_sample_video
from service.emulator.settings import EmulatorSettings
from service.process.embedded_db import EmbeddedPostgres
from service.process.serving import serve_in_background

MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
VALOSSA_API_KEY = "image-check-valossa-key"
SAMPLE = "sample.mp4"


async def main() -> None:
    """Start the peers, print where they are, and tear them down at stdin's end."""
    database = f"vi_image_check_{int(time.time())}_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="vi-image-check-") as scratch:
        root = Path(scratch)
        async with contextlib.AsyncExitStack() as stack:
            admin_url = await stack.enter_async_context(_postgres_server(root / "pg"))
            database_url = await stack.enter_async_context(_database(admin_url, database))
            (root / "media").mkdir()
            await asyncio.to_thread(write_sample_video, root / "media" / SAMPLE, duration_s=4.0)
            media_app = Starlette(routes=[Mount("/", app=StaticFiles(directory=root / "media"))])
            media = await stack.enter_async_context(serve_in_background(media_app))
            emulator_settings = EmulatorSettings(
                api_keys=SecretStr(VALOSSA_API_KEY), speed=50.0, data_dir=root / "emulator"
            )
            emulator = await stack.enter_async_context(
                serve_in_background(create_emulator_app(emulator_settings))
            )
            peers = {
                "database_url": database_url,
                "valossa_base_url": emulator.url,
                "valossa_api_key": VALOSSA_API_KEY,
                "emulator_admin_url": f"{emulator.url}/_emulator",
                "video_url": f"{media.url}/{SAMPLE}",
            }
            print(json.dumps(peers), flush=True)
            await asyncio.to_thread(sys.stdin.read)


@contextlib.asynccontextmanager
async def _postgres_server(data_dir: Path) -> AsyncIterator[str]:
    """The admin URL of the machine's Postgres, or of an embedded one behind a TCP relay."""
    if not os.environ.get("IMAGE_CHECK_EMBEDDED_POSTGRES") and await _machine_postgres_answers():
        print("peers: using the machine's Postgres on 127.0.0.1:5432", file=sys.stderr)
        yield MACHINE_POSTGRES
        return
    print("peers: starting an embedded Postgres (none used on 127.0.0.1:5432)", file=sys.stderr)
    server = await asyncio.to_thread(EmbeddedPostgres, data_dir, cleanup=True)
    try:
        socket_path = str(data_dir / ".s.PGSQL.5432")
        relay = await asyncio.start_server(
            lambda reader, writer: _relay(reader, writer, socket_path), "127.0.0.1", 0
        )
        async with relay:
            port = relay.sockets[0].getsockname()[1]
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        await asyncio.to_thread(server.stop)


async def _machine_postgres_answers() -> bool:
    try:
        await asyncio.to_thread(_execute, MACHINE_POSTGRES, sql.SQL("SELECT 1"), connect_timeout=3)
    except psycopg.OperationalError:
        return False
    return True


async def _relay(
    client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, socket_path: str
) -> None:
    """Copy bytes both ways between a TCP client and the server's Unix socket."""
    server_reader, server_writer = await asyncio.open_unix_connection(socket_path)
    await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def _database(admin_url: str, name: str) -> AsyncIterator[str]:
    """Create database `name` for this run and drop it afterwards; yields its SQLAlchemy URL."""
    database = sql.Identifier(name)
    await asyncio.to_thread(_execute, admin_url, sql.SQL("CREATE DATABASE {}").format(database))
    try:
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database)
        await asyncio.to_thread(_execute, admin_url, drop)


def _execute(
    admin_url: str, statement: sql.SQL | sql.Composed, *, connect_timeout: int = 10
) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=connect_timeout) as conn:
        conn.execute(statement)


if __name__ == "__main__":
    asyncio.run(main())
