"""Run ASGI apps with uvicorn: `serve`, dev mode, the worker's probes and live-server tests.

uvicorn (with httptools) drops an idle kept-alive connection, but bounds neither the time nor
the size of a request's headers: a client that never finishes them holds the connection, and
one that keeps sending header lines grows the process without limit. `guarded_protocol` adds
both bounds, so that no client can hold connections for minutes or memory for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import ClassVar

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Defaults of the servers that have no settings of their own (dev mode's helpers, probes).
HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024
KEEPALIVE_TIMEOUT_S = 5


class PortUnavailable(Exception):
    """The port cannot be listened on (in use, or not allowed); the message names it."""


@dataclass(frozen=True)
class LiveServer:
    """A uvicorn server listening on a bound socket; `url` has no trailing slash."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class _GuardedHttp(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request line and headers are
    not all in after `header_timeout_s` (from the connection, or from the request's first byte
    once kept alive), or that go past `max_header_bytes` (answered 431)."""

    header_timeout_s: ClassVar[float] = HEADER_TIMEOUT_S
    max_header_bytes: ClassVar[int] = MAX_HEADER_BYTES
    _header_timer: asyncio.TimerHandle | None = None
    _awaiting_headers = True
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self._awaiting_headers:
            super().data_received(data)
            return
        # Only the bytes up to the end of the headers count: parse what may still be headers,
        # and the rest only if the headers ended within it.
        room = self.max_header_bytes - self._header_bytes
        head, rest = data[:room], data[room:]
        self._header_bytes += len(head)
        super().data_received(head)
        if not rest or self.transport.is_closing():
            return
        if self._awaiting_headers and self._header_bytes >= self.max_header_bytes:
            self._refuse_headers()
            return
        self.data_received(rest)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._awaiting_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers, self._header_bytes = True, 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.logger.debug("closing a connection without complete request headers in time")
            self.transport.close()

    def _refuse_headers(self) -> None:
        self._disarm()
        self.logger.warning(
            "refused a request whose headers exceed %d bytes", self.max_header_bytes
        )
        self._answer_and_close(431, "the request line and headers exceed the limit")

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer to a request it cannot parse is text/plain; ours are problems.
        self._answer_and_close(400, "malformed HTTP request")

    def _answer_and_close(self, status: int, detail: str) -> None:
        if self.transport.is_closing():
            return
        phrase = HTTPStatus(status).phrase
        body = json.dumps(
            {"type": "about:blank", "title": phrase, "status": status, "detail": detail}
        ).encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def guarded_protocol(header_timeout_s: float, max_header_bytes: int) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol class with a deadline and a size limit on request headers."""
    return type(
        "GuardedHttp",
        (_GuardedHttp,),
        {"header_timeout_s": header_timeout_s, "max_header_bytes": max_header_bytes},
    )


def server_config(
    app: ASGIApp,
    *,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    max_header_bytes: int = MAX_HEADER_BYTES,
    keepalive_timeout_s: int = KEEPALIVE_TIMEOUT_S,
    forwarded_allow_ips: str = "127.0.0.1",
    log_level: str | None = None,
    access_log: bool = True,
    lifespan: str = "on",
    graceful_shutdown_s: int = 20,
) -> uvicorn.Config:
    """uvicorn's configuration for one of our servers; logging is the process's own."""
    return uvicorn.Config(
        app,
        http=guarded_protocol(header_timeout_s, max_header_bytes),
        ws="none",  # no route speaks WebSocket: nothing to parse upgrades for
        timeout_keep_alive=keepalive_timeout_s,
        # X-Forwarded-For/-Proto are believed only from these peers (a proxy in front).
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_level=log_level,
        access_log=access_log,
        log_config=None,
        lifespan=lifespan,  # type: ignore[arg-type]
        timeout_graceful_shutdown=graceful_shutdown_s,
    )


class _BackgroundServer(uvicorn.Server):
    """A uvicorn server that leaves signals to whoever owns the loop (the CLI or pytest)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind a listening TCP socket; port 0 lets the kernel pick a free port.

    Raises PortUnavailable with a one-line reason naming the address.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without it, small answers on kept-alive connections wait ~40 ms for delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(f"port {port} on {host} is already in use") from None
        reason = exc.strerror or type(exc).__name__
        raise PortUnavailable(f"cannot listen on {host} port {port}: {reason}") from None
    sock.setblocking(False)
    return sock


def serve_forever(config: uvicorn.Config, sock: socket.socket) -> None:
    """Serve on a socket bound beforehand until SIGTERM/SIGINT (uvicorn handles the signals)."""
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.asynccontextmanager
async def serve_in_background(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    sock: socket.socket | None = None,
    log_level: str = "warning",
    lifespan: str = "on",
    config: uvicorn.Config | None = None,
) -> AsyncIterator[LiveServer]:
    """Serve `app` for the duration of the context; shuts down gracefully.

    `config` replaces the default one (which has no access log) when given.
    """
    sock = sock or bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    config = config or server_config(
        app, log_level=log_level, lifespan=lifespan, access_log=False, graceful_shutdown_s=5
    )
    server = _BackgroundServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield LiveServer(host=bound_host, port=bound_port)
    finally:
        server.should_exit = True
        await task
        sock.close()
