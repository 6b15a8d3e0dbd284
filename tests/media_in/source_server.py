"""A tiny HTTP/1.1 origin for source downloads, in full control of every byte it sends.

Each route is a handler that writes the answer itself: with or without Content-Length,
chunked, dripping, redirecting, with any Content-Encoding. The server records every request
(path, headers, TLS server name) and notices when a client goes away mid-answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Seen:
    """One request the server got."""

    path: str
    headers: dict[str, str]
    server_name: str | None
    #: Set when the client closed the connection.
    gone: asyncio.Event = field(default_factory=asyncio.Event)


class Answer:
    """Writes one response."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def head(self, status: int, headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} X", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()

    async def body(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def chunk(self, data: bytes) -> None:
        """One piece of a `Transfer-Encoding: chunked` body (b"" ends it)."""
        self._writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await self._writer.drain()


Handler = Callable[[Answer, Seen], Awaitable[None]]


def fixed(data: bytes, *, status: int = 200, **headers: str) -> Handler:
    """The whole body with its Content-Length (and any extra headers)."""

    async def handle(answer: Answer, _: Seen) -> None:
        extra = {name.replace("_", "-"): value for name, value in headers.items()}
        await answer.head(status, {"Content-Length": str(len(data)), **extra})
        await answer.body(data)

    return handle


def chunked(data: bytes, *, piece: int = 1000) -> Handler:
    """The body in chunked transfer encoding: no Content-Length."""

    async def handle(answer: Answer, _: Seen) -> None:
        await answer.head(200, {"Transfer-Encoding": "chunked"})
        for start in range(0, len(data), piece):
            await answer.chunk(data[start : start + piece])
        await answer.chunk(b"")

    return handle


def gzipped(data: bytes) -> Handler:
    """The body really gzip-compressed, as a server that ignores Accept-Encoding sends it."""
    return fixed(gzip.compress(data), Content_Encoding="gzip", Content_Type="video/mp4")


def dripping(data: bytes, *, every_s: float, piece: int = 1) -> Handler:
    """`piece` bytes every `every_s` seconds, until the client goes away."""

    async def handle(answer: Answer, seen: Seen) -> None:
        await answer.head(200, {"Content-Length": str(len(data))})
        for start in range(0, len(data), piece):
            await answer.body(data[start : start + piece])
            await asyncio.sleep(every_s)

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    """A redirect to `location`."""

    async def handle(answer: Answer, _: Seen) -> None:
        await answer.head(status, {"Location": location, "Content-Length": "0"})

    return handle


class SourceServer:
    """Serves `routes` (path -> handler) on a loopback port, over TLS with `ssl_context`."""

    def __init__(
        self, routes: dict[str, Handler], *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.routes = routes
        self.ssl_context = ssl_context
        self.requests: list[Seen] = []
        self.port = 0
        self._sni: str | None = None
        if ssl_context is not None:
            ssl_context.sni_callback = self._remember_sni

    def _remember_sni(self, _socket: ssl.SSLObject, name: str | None, _ctx: object) -> None:
        self._sni = name

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def hits(self, path: str) -> list[Seen]:
        """The requests of one path (whatever their query)."""
        return [seen for seen in self.requests if seen.path.split("?")[0] == path]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[SourceServer]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        path = request_line.split(" ")[1]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        seen = Seen(path=path, headers=headers, server_name=self._sni)
        self.requests.append(seen)
        watcher = asyncio.create_task(self._watch(reader, seen))
        handler = self.routes.get(path.split("?")[0]) or fixed(b"no such file", status=404)
        try:
            await handler(Answer(writer), seen)
        except (ConnectionError, OSError):
            seen.gone.set()
        finally:
            watcher.cancel()
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    @staticmethod
    async def _watch(reader: asyncio.StreamReader, seen: Seen) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(1024):
                pass
        seen.gone.set()
