"""A counting proxy in front of Postgres: database round trips per request, measured on the wire.

Every round trip of the frontend/backend protocol ends with the server's ReadyForQuery ('Z')
message: a simple query (`Q`: BEGIN, COMMIT) or an extended-protocol batch up to its Sync (Parse,
Bind, Execute: one SQL statement). The proxy forwards bytes unchanged and, per connection,
records each exchange with the SQL it carried (a prepared statement is named by its earlier
Parse). Only for counting: Python in the path slows every query, so timed runs go direct.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psycopg.conninfo
from sqlalchemy.engine import make_url

CONNECT = "(connect)"


@dataclass
class WireCounts:
    """The exchanges seen since the last reset, each as the SQL statements it carried."""

    exchanges: list[list[str]] = field(default_factory=list)

    def reset(self) -> None:
        self.exchanges.clear()


class _Connection:
    def __init__(self, counts: WireCounts) -> None:
        self.counts = counts
        self.prepared: dict[str, str] = {}
        self.pending: list[str] = [CONNECT]  # the start-up exchange ends with a 'Z' too
        self.started = False

    def from_client(self, message_type: bytes, payload: bytes) -> None:
        if message_type == b"Q":
            self.pending.append(_cstring(payload, 0)[0])
        elif message_type == b"P":
            name, end = _cstring(payload, 0)
            query = _cstring(payload, end)[0]
            if name:
                self.prepared[name] = query
            self.pending.append(query)
        elif message_type == b"B":
            _portal, end = _cstring(payload, 0)
            name = _cstring(payload, end)[0]
            if name and name in self.prepared:
                self.pending.append(self.prepared[name])

    def from_server(self, message_type: bytes) -> None:
        if message_type == b"Z":
            self.counts.exchanges.append(_unique(self.pending))
            self.pending = []


def _unique(statements: list[str]) -> list[str]:
    """A Parse and the Bind of the same statement in one batch are one statement."""
    return list(dict.fromkeys(statements))


def _cstring(data: bytes, start: int) -> tuple[str, int]:
    end = data.index(b"\0", start)
    return data[start:end].decode(errors="replace"), end + 1


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_message: object,
    *,
    startup: bool,
) -> None:
    """Forward messages, calling `on_message(type, payload)` for each one."""
    try:
        if startup:  # the start-up message has no type byte
            head = await reader.readexactly(4)
            (length,) = struct.unpack("!I", head)
            writer.write(head + await reader.readexactly(length - 4))
        while True:
            head = await reader.readexactly(5)
            (length,) = struct.unpack("!I", head[1:])
            payload = await reader.readexactly(length - 4)
            on_message(head[:1], payload)  # type: ignore[operator]
            writer.write(head + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _upstream_address(database_url: str) -> tuple[str | None, str, int]:
    """(unix socket path or None, host, port) of the server in a SQLAlchemy URL."""
    libpq = make_url(database_url).set(drivername="postgresql")
    params = psycopg.conninfo.conninfo_to_dict(libpq.render_as_string(hide_password=False))
    host = str(params.get("host") or "/tmp")
    port = int(params.get("port") or 5432)
    if host.startswith("/"):
        return f"{host}/.s.PGSQL.{port}", host, port
    return None, host, port


@contextlib.asynccontextmanager
async def counting_proxy(database_url: str) -> AsyncIterator[tuple[str, WireCounts]]:
    """A proxy on a loopback port; yields the database URL through it and its counts."""
    socket_path, host, port = _upstream_address(database_url)
    counts = WireCounts()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if socket_path is not None:
            server_r, server_w = await asyncio.open_unix_connection(socket_path)
        else:
            server_r, server_w = await asyncio.open_connection(host, port)
        connection = _Connection(counts)
        await asyncio.gather(
            _pump(client_r, server_w, connection.from_client, startup=True),
            _pump(server_r, client_w, lambda kind, _: connection.from_server(kind), startup=False),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    url = make_url(database_url)
    query = {k: v for k, v in url.query.items() if k not in ("host", "port")}
    # No TLS or GSS negotiation: their one-byte answers are not protocol messages.
    query.update(sslmode="disable", gssencmode="disable")
    proxied = url.set(host="127.0.0.1", port=proxy_port, query=query)
    try:
        yield proxied.render_as_string(hide_password=False), counts
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
