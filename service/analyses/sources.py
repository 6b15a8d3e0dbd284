"""SSRF guard for URLs this service fetches itself (upload sources): only public hosts.

Checked when the CMS submits the analysis and again right before the download, since a DNS
answer may change in between. The check refuses a host when ANY of its addresses is not global.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeSourceUrl(Exception):
    """A source URL we refuse to fetch; the message says why (and never echoes credentials)."""


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Drop an IPv6 zone id ("fe80::1%eth0") before parsing.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_source_url(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeSourceUrl unless `url` is http(s) and its host resolves to public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeSourceUrl("source_url must be an http:// or https:// URL")
    host = parts.hostname
    if not host:
        raise UnsafeSourceUrl("source_url has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeSourceUrl("source_url has an invalid port") from None
    if allow_private:
        return
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        raise UnsafeSourceUrl(f"source_url host {host!r} cannot be resolved") from None
    if not addresses:
        raise UnsafeSourceUrl(f"source_url host {host!r} cannot be resolved")
    private = [str(a) for a in addresses if not is_public(a)]
    if private:
        raise UnsafeSourceUrl(
            f"source_url host {host!r} resolves to a non-public address ({private[0]}); "
            "this service only fetches from public hosts"
        )
