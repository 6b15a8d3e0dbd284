"""Run ASGI apps with uvicorn inside an existing event loop (dev mode and live-server tests)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


@dataclass(frozen=True)
class LiveServer:
    """A uvicorn server listening on a bound socket; `url` has no trailing slash."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class _BackgroundServer(uvicorn.Server):
    """A uvicorn server that leaves signals to whoever owns the loop (the CLI or pytest)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind a listening TCP socket; port 0 lets the kernel pick a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without it, small answers on kept-alive connections wait ~40 ms for delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serve_in_background(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    sock: socket.socket | None = None,
    log_level: str = "warning",
    lifespan: str = "on",
) -> AsyncIterator[LiveServer]:
    """Serve `app` on a loopback port for the duration of the context; shuts down gracefully."""
    sock = sock or bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan=lifespan,  # type: ignore[arg-type]
        access_log=False,
        log_config=None,  # the process's own logging set-up applies
        timeout_graceful_shutdown=5,
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
