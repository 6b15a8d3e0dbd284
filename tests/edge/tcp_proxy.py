"""A TCP proxy in front of Postgres that a test can cut and restore, as a database restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url


@dataclass
class CuttableProxy:
    """Forwards loopback connections to the database; `cut()` drops them all and refuses new."""

    upstream_host: str
    upstream_port: int
    port: int = 0
    refusing: bool = False
    _handlers: set[asyncio.Task[object]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream_host.startswith("/"):
            socket_path = f"{self.upstream_host}/.s.PGSQL.{self.upstream_port}"
            return await asyncio.open_unix_connection(socket_path)
        return await asyncio.open_connection(self.upstream_host, self.upstream_port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        if self.refusing:
            writer.close()
            return
        up_reader, up_writer = await self._open_upstream()
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    def cut(self) -> None:
        """Close every open connection and refuse new ones (the database "is down")."""
        self.refusing = True
        for writer in list(self._writers):
            writer.transport.abort()

    def restore(self) -> None:
        """Accept and forward connections again (the database "is back")."""
        self.refusing = False

    def url_through(self, database_url: str) -> str:
        """`database_url` rewritten to go through this proxy."""
        parsed = make_url(database_url)
        query = {k: v for k, v in parsed.query.items() if k != "host"}
        return parsed.set(host="127.0.0.1", port=self.port, query=query).render_as_string(
            hide_password=False
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


@contextlib.asynccontextmanager
async def cuttable_proxy(database_url: str) -> AsyncIterator[CuttableProxy]:
    """A proxy to the database of `database_url` on a loopback port, for the block."""
    parsed = make_url(database_url)
    host = parsed.host or str(parsed.query.get("host", "127.0.0.1"))
    proxy = CuttableProxy(upstream_host=host, upstream_port=parsed.port or 5432)
    server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        proxy.cut()
        server.close()
        await asyncio.gather(*proxy._handlers, return_exceptions=True)
        await server.wait_closed()
