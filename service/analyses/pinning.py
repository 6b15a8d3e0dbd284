"""An httpx transport that connects to one IP address chosen beforehand, whatever DNS says now.

The SSRF check resolves a host and checks its addresses; if httpx then resolved the host again
to connect, a DNS answer that changed in between (DNS rebinding) would steer the connection to
an address nobody checked. This transport hands httpcore a network backend that ignores the
host it is asked for and dials the pinned address instead. Everything else still names the
URL's host: the Host header, TLS SNI and certificate verification.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpcore
import httpx

#: httpcore's socket option shapes (as in its AsyncNetworkBackend.connect_tcp).
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class PinnedNetwork(httpcore.AsyncNetworkBackend):
    """Dials `address` for every TCP connection, on the port the URL asked for."""

    def __init__(self, address: str, network: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.address = address
        self._network = network or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._network.connect_tcp(
            self.address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a pinned connection never uses a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An AsyncHTTPTransport (no proxies, no retries) whose connections all go to `address`."""

    def __init__(
        self,
        address: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=context, trust_env=False)
        # httpx has no parameter for a network backend; its pool is the one documented place
        # where httpcore takes one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=1,
            network_backend=PinnedNetwork(address, network),
        )
