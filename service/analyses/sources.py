"""SSRF guard for URLs this service fetches itself (upload sources): only public hosts.

A host is refused when ANY of its addresses is not a global unicast address. IPv6 forms that
carry an IPv4 address are judged by what they lead to: the IPv4-mapped form (`::ffff:a.b.c.d`)
and the well-known NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) prefixes pass only when the
embedded IPv4 is itself global; forms that only make sense inside a network (local-use NAT64
`64:ff9b:1::/48`, IPv4-compatible `::/96`, IPv4-translated `::ffff:0:0:0/96`, Teredo, the
deprecated site-local `fec0::/10`) are refused outright.

The check resolves the host once; the fetcher (fetcher.py) then connects to exactly the
address checked here, so a DNS answer that changes in between cannot steer it elsewhere.
Every refusal reads the same whether the host is private, unresolvable or unreachable, so the
answers teach a caller nothing about internal hosts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves (host, port) to addresses; injectable so tests can stub DNS.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

#: IPv6 prefixes whose last 32 bits are an IPv4 address that decides where a packet goes.
_EMBEDDING_IPV4 = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
)
#: IPv6 ranges never reachable as a public host, whatever Python's is_global says of them.
_NEVER_PUBLIC = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64 for local use (RFC 8215)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated, RFC 4291)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
    ipaddress.IPv6Network("2001::/32"),  # Teredo
    ipaddress.IPv6Network("fec0::/10"),  # site-local (deprecated)
)


class UnsafeSourceUrl(Exception):
    """A source URL we refuse to fetch; the message says why (and never echoes credentials)."""


class HostNotResolved(UnsafeSourceUrl):
    """The host has no address right now (perhaps a passing DNS failure); same text as a
    refusal, but the fetcher retries it."""


def where(url: str) -> str:
    """The URL without credentials, query or fragment (which may hold signatures)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def not_fetchable(url: str) -> str:
    """The one refusal text for a host we will not or cannot reach (private, unresolvable,
    unreachable alike)."""
    return (
        f"{where(url)} cannot be fetched by this service: its host is a non-public address, "
        "or it cannot be resolved or reached. Give a link on a public web server"
    )


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address, judging embedded IPv4 by what it is."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _NEVER_PUBLIC):
            return False
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_public(address.sixtofour)
        if any(address in network for network in _EMBEDDING_IPV4):
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
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


def split_target(url: str) -> tuple[str, int]:
    """The host and port `url` points at; UnsafeSourceUrl if it is not a fetchable http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeSourceUrl(f"{where(url)}: only http:// and https:// URLs are fetched")
    host = parts.hostname
    if not host:
        raise UnsafeSourceUrl(f"{where(url)}: the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeSourceUrl(f"{where(url)}: the URL has an invalid port") from None
    return host, port


async def checked_address(
    url: str, *, allow_private: bool, resolver: Resolver = resolve
) -> IPAddress:
    """The address to connect to for `url`, resolved once and checked; UnsafeSourceUrl if the
    URL or any address of its host is refused, or the host does not resolve."""
    host, port = split_target(url)
    try:
        addresses = await resolver(host, port)
    except (OSError, UnicodeError):
        raise HostNotResolved(not_fetchable(url)) from None
    if not addresses:
        raise HostNotResolved(not_fetchable(url))
    if not allow_private and not all(is_public(a) for a in addresses):
        raise UnsafeSourceUrl(not_fetchable(url))
    return addresses[0]


async def check_source_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Raise UnsafeSourceUrl unless `url` is http(s) on a host of public addresses only.

    Run when the CMS submits the analysis, to refuse at once what would fail later; the
    fetcher checks again, and connects to what it checked. With `allow_private` (local use)
    only the URL's form is checked: nothing is resolved.
    """
    if allow_private:
        split_target(url)
        return
    await checked_address(url, allow_private=False, resolver=resolver)
