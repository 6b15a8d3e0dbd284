"""Build the one shared `httpx.AsyncClient` a process uses to talk to Valossa."""

from __future__ import annotations

import socket

import httpx

#: Requests are written as headers then body; without TCP_NODELAY, Nagle's algorithm and the
#: peer's delayed ACK can stall each multipart upload by ~40 ms.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def make_http_client(
    *,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    write_timeout: float = 60.0,
    pool_timeout: float = 30.0,
    max_connections: int = 20,
    max_keepalive_connections: int = 10,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient with bounded timeouts and connection pool, for injection into ValossaClient.

    Read and write timeouts are per network operation, not per request, so a long job_results
    stream or a 4 MB chunk upload is fine as long as bytes keep moving. The pool bounds how many
    chunk uploads and polls run at once across the whole process.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_keepalive_connections
    )
    if transport is None:
        transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=_SOCKET_OPTIONS)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        ),
        limits=limits,
        transport=transport,
        follow_redirects=False,
    )
