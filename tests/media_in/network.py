"""The internet as far as a fetcher test goes: scripted DNS, public addresses routed to loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpcore

from service.analyses.sources import IPAddress

#: Public addresses the tests pretend to reach (documentation ranges are not global).
PUBLIC = "93.184.216.34"
PUBLIC_2 = "93.184.216.35"


class ScriptedDns:
    """Answers each name from a script: one list of addresses per lookup, the last one repeated
    (so a second lookup can answer differently, as a rebinding attacker's DNS does)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        self.lookups.append(host)
        script = self.answers.get(host)
        if not script:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        seen = self.lookups.count(host)
        return [ipaddress.ip_address(a) for a in script[min(seen, len(script)) - 1]]


class RoutedNetwork(httpcore.AsyncNetworkBackend):
    """Dials loopback ports for (address, port) pairs in `routes`; records every dial; any
    other address is unreachable."""

    def __init__(self, routes: dict[tuple[str, int], int]) -> None:
        self.routes = routes
        self.dialed: list[tuple[str, int]] = []
        self._loopback = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialed.append((host, port))
        target = self.routes.get((host, port))
        if target is None:
            raise httpcore.ConnectError(f"no route to {host}:{port}")
        return await self._loopback.connect_tcp("127.0.0.1", target, timeout=timeout)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no Unix sockets here")

    async def sleep(self, seconds: float) -> None:
        await self._loopback.sleep(seconds)
