"""Download a URL the CMS gave us into a local file: pinned, redirect-checked, bounded.

- Every hop (the URL and each redirect, at most `max_redirects`) is resolved once, checked by
  the SSRF guard (sources.py), and connected to at exactly the address checked (pinning.py).
- `Accept-Encoding: identity`, and the body is read raw: the bytes stored are the bytes the
  server sent, never decompressed, so a declared Content-Length always matches.
- Without Content-Length the body is spooled all the same, up to `max_bytes` (Valossa's 7 GB).
- A total time limit, and a minimum throughput over each `window_s` (a stall of one window
  also ends it), so a dripping source cannot hold a worker for long.
- Failures are classified: `SourceRefused` will not change by retrying (4xx, refused address,
  too big, not a video); `SourceUnavailable` may (5xx, 408/429, network, too slow). Messages
  name the CMS's URL without its query (signatures) and say what to fix; a refused or
  unreachable host reads the same, so they reveal nothing about internal hosts.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO
from urllib.parse import urljoin

import httpcore
import httpx

from service.analyses.pinning import PinnedTransport
from service.analyses.sources import (
    HostNotResolved,
    Resolver,
    UnsafeSourceUrl,
    checked_address,
    not_fetchable,
    resolve,
    where,
)
from service.analyses.video_sniff import not_a_video

#: Bytes gathered before a blocking write to the spool file.
_WRITE_SIZE = 1024 * 1024
#: Bytes looked at to tell a video from a web page or an archive.
_SNIFF_SIZE = 512
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "valossa-ingest (source download)"


@dataclass(frozen=True)
class FetchLimits:
    """Bounds of one download."""

    max_bytes: int
    total_s: float
    min_bytes_per_s: float
    window_s: float
    connect_s: float = 10.0
    max_redirects: int = 5


class SourceFailure(Exception):
    """A download that did not succeed; the message is for the CMS."""


class SourceRefused(SourceFailure):
    """Retrying will not help: the URL, the server's answer or the file must change."""


class SourceUnavailable(SourceFailure):
    """Perhaps passing: the server or the network failed, or was too slow."""


@dataclass(frozen=True)
class Fetched:
    """A completed download."""

    size: int
    content_type: str | None


#: Receives (bytes so far, total or None) as the download proceeds.
OnProgress = Callable[[int, int | None], None]


@dataclass
class Fetcher:
    """How sources are fetched: the SSRF policy, the limits, and (for tests) DNS and network."""

    limits: FetchLimits
    allow_private: bool = False
    resolver: Resolver = resolve
    network: httpcore.AsyncNetworkBackend | None = None
    ssl_context: ssl.SSLContext | None = None

    async def fetch(
        self, url: str, sink: IO[bytes], *, on_progress: OnProgress | None = None
    ) -> Fetched:
        """Download `url` (following checked redirects) into `sink`; raise a SourceFailure."""
        sink.seek(0)
        sink.truncate()
        try:
            async with asyncio.timeout(self.limits.total_s):
                return await self._follow(url, sink, on_progress)
        except TimeoutError:
            raise SourceUnavailable(
                f"the download of {where(url)} did not finish within "
                f"{self.limits.total_s:.0f} s; serve the file faster"
            ) from None

    async def _follow(self, url: str, sink: IO[bytes], on_progress: OnProgress | None) -> Fetched:
        current = url
        for _ in range(self.limits.max_redirects + 1):
            try:
                address = await checked_address(
                    current, allow_private=self.allow_private, resolver=self.resolver
                )
            except HostNotResolved:
                raise SourceUnavailable(not_fetchable(url)) from None
            except UnsafeSourceUrl as exc:
                raise SourceRefused(str(exc) if current == url else not_fetchable(url)) from None
            async with self._client(str(address)) as client:
                outcome = await self._get(client, url, current, sink, on_progress)
            if isinstance(outcome, Fetched):
                return outcome
            current = outcome
        raise SourceRefused(
            f"{where(url)} redirects more than {self.limits.max_redirects} times; "
            "give the file's final, direct URL"
        )

    def _client(self, address: str) -> httpx.AsyncClient:
        transport = PinnedTransport(address, ssl_context=self.ssl_context, network=self.network)
        timeout = httpx.Timeout(self.limits.window_s, connect=self.limits.connect_s)
        return httpx.AsyncClient(
            transport=transport, timeout=timeout, trust_env=False, follow_redirects=False
        )

    async def _get(
        self,
        client: httpx.AsyncClient,
        url: str,
        current: str,
        sink: IO[bytes],
        on_progress: OnProgress | None,
    ) -> str | Fetched:
        """One hop: the URL it redirects to, or the download once the body is in `sink`."""
        headers = {"Accept-Encoding": "identity", "User-Agent": _USER_AGENT}
        try:
            async with client.stream("GET", current, headers=headers) as response:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    return urljoin(current, response.headers["location"])
                _check_status(url, current, response.status_code)
                size = await _read_body(url, response, sink, self.limits, on_progress)
                return Fetched(size=size, content_type=response.headers.get("content-type"))
        except httpx.ConnectError as exc:
            if _is_certificate_error(exc):
                raise SourceRefused(
                    f"{where(url)}: the server's TLS certificate is not valid for its host; "
                    "fix the certificate or give another link"
                ) from None
            raise SourceUnavailable(not_fetchable(url)) from None
        except httpx.ConnectTimeout:
            raise SourceUnavailable(not_fetchable(url)) from None
        except httpx.TimeoutException:
            raise SourceUnavailable(
                f"the download of {where(url)} stalled: no data for {self.limits.window_s:.0f} s"
            ) from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"the download of {where(url)} broke off ({type(exc).__name__})"
            ) from None


def _check_status(url: str, current: str, status: int) -> None:
    if status == 200:
        return
    via = "" if current == url else f" (redirected to {where(current)})"
    if status >= 500 or status in (408, 425, 429):
        raise SourceUnavailable(f"{where(url)}{via}: the server answered HTTP {status}")
    raise SourceRefused(
        f"{where(url)}{via}: the server answered HTTP {status}; give a direct link that "
        "answers 200 with the video file"
    )


async def _read_body(
    url: str,
    response: httpx.Response,
    sink: IO[bytes],
    limits: FetchLimits,
    on_progress: OnProgress | None,
) -> int:
    declared = _declared_length(url, response, limits)
    throughput = Throughput(limits.min_bytes_per_s, limits.window_s)
    buffer = bytearray()
    head = b""
    total = 0
    # Raw bytes: whatever the Content-Encoding says, the file is what the server sent.
    async for piece in response.aiter_raw():
        if len(head) < _SNIFF_SIZE:
            head += piece[: _SNIFF_SIZE - len(head)]
            if len(head) >= _SNIFF_SIZE:
                _check_head(url, head, response)
        total += len(piece)
        if total > limits.max_bytes:
            raise SourceRefused(_too_big(url, limits.max_bytes))
        buffer += piece
        if len(buffer) >= _WRITE_SIZE:
            await asyncio.to_thread(sink.write, bytes(buffer))
            buffer.clear()
        if on_progress is not None:
            on_progress(total, declared)
        if not throughput.keeps_up(total):
            raise SourceUnavailable(
                f"the download of {where(url)} is too slow: {throughput.last_rate:.0f} bytes/s "
                f"over {limits.window_s:.0f} s, below the {limits.min_bytes_per_s:.0f} "
                "bytes/s minimum"
            )
    if buffer:
        await asyncio.to_thread(sink.write, bytes(buffer))
    await asyncio.to_thread(sink.flush)
    if total == 0:
        raise SourceRefused(f"{where(url)}: the server sent an empty file; link the video itself")
    if len(head) < _SNIFF_SIZE:
        _check_head(url, head, response)
    if declared is not None and total != declared:
        raise SourceUnavailable(
            f"the download of {where(url)} ended after {total} of {declared} bytes"
        )
    return total


def _declared_length(url: str, response: httpx.Response, limits: FetchLimits) -> int | None:
    raw = response.headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None  # unknown (chunked): spooled up to the cap
    declared = int(raw)
    if declared == 0:
        raise SourceRefused(
            f"{where(url)}: the server answered with an empty body (Content-Length: 0); "
            "link the video file itself"
        )
    if declared > limits.max_bytes:
        raise SourceRefused(_too_big(url, limits.max_bytes))
    return declared


def _too_big(url: str, max_bytes: int) -> str:
    return (
        f"{where(url)} is larger than {max_bytes} bytes, the most Valossa accepts; "
        "give a smaller file"
    )


def _check_head(url: str, head: bytes, response: httpx.Response) -> None:
    what = not_a_video(head)
    if what is None:
        return
    served = response.headers.get("content-type")
    encoding = response.headers.get("content-encoding")
    how = ", ".join(
        f"{name} {value}"
        for name, value in (("Content-Type", served), ("Content-Encoding", encoding))
        if value
    )
    raise SourceRefused(
        f"{where(url)} is not a video: it holds {what}{f' ({how})' if how else ''}. "
        "Give a direct link to the video file itself (MP4, MOV, MKV, WebM, AVI, MPEG...)"
    )


def _is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Throughput:
    """The minimum-throughput rule: each window of `window_s` must bring `min_bytes_per_s`."""

    def __init__(self, min_bytes_per_s: float, window_s: float) -> None:
        self.min_bytes_per_s = min_bytes_per_s
        self.window_s = window_s
        self.last_rate = 0.0
        self._mark = (time.monotonic(), 0)

    def keeps_up(self, total: int, now: float | None = None) -> bool:
        """False once a whole window has passed at less than the minimum rate."""
        now = time.monotonic() if now is None else now
        since, at = self._mark
        if now - since < self.window_s:
            return True
        self.last_rate = (total - at) / (now - since)
        self._mark = (now, total)
        return self.last_rate >= self.min_bytes_per_s
