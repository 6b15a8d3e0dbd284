"""The source fetcher against local origins: pinning, redirects, encodings, sizes, speed."""

from __future__ import annotations

import asyncio
import gzip
import os
import ssl
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.analyses.fetcher import (
    Fetcher,
    FetchLimits,
    SourceRefused,
    SourceUnavailable,
    Throughput,
)
from service.analyses.sources import not_fetchable
from tests.media_in.network import PUBLIC, PUBLIC_2, RoutedNetwork, ScriptedDns
from tests.media_in.source_server import (
    SourceServer,
    chunked,
    dripping,
    fixed,
    gzipped,
    redirect,
)
from tests.support.waiting import eventually

#: The start of an MP4 file, then noise: a video as far as the fetcher can tell.
VIDEO = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + os.urandom(200_000)
LIMITS = FetchLimits(max_bytes=10_000_000, total_s=30, min_bytes_per_s=0, window_s=10)


@pytest.fixture
async def origin() -> AsyncIterator[SourceServer]:
    """The CMS's media server (reached as a public host through RoutedNetwork)."""
    routes = {
        "/clip.mp4": fixed(VIDEO, Content_Type="video/mp4"),
        "/chunked.mp4": chunked(VIDEO, piece=7_000),
        "/labelled-gzip.mp4": fixed(VIDEO, Content_Encoding="gzip"),
        "/really-gzip.mp4": gzipped(VIDEO),
        "/empty.mp4": fixed(b""),
        "/page": fixed(b"<!DOCTYPE html><html><body>Please log in</body></html>" * 5),
        "/gone.mp4": fixed(b"not here", status=404),
        "/busy.mp4": fixed(b"try later", status=503),
    }
    async with SourceServer(routes).running() as server:
        yield server


@pytest.fixture
async def intranet() -> AsyncIterator[SourceServer]:
    """A loopback service that a source must never reach."""
    async with SourceServer({"/secret": fixed(VIDEO)}).running() as server:
        yield server


def _fetcher(origin: SourceServer, dns: ScriptedDns | None = None, **limits: float) -> Fetcher:
    network = RoutedNetwork({(PUBLIC, 80): origin.port, (PUBLIC_2, 80): origin.port})
    resolver = dns or ScriptedDns({"media.example": [[PUBLIC]], "cdn.example": [[PUBLIC_2]]})
    bounds = FetchLimits(**{**LIMITS.__dict__, **limits})
    return Fetcher(limits=bounds, resolver=resolver, network=network)


async def _fetch(fetcher: Fetcher, url: str) -> bytes:
    with tempfile.TemporaryFile() as sink:
        fetched = await fetcher.fetch(url, sink)
        sink.seek(0)
        data = sink.read()
    assert fetched.size == len(data)
    return data


async def test_a_public_source_is_downloaded_whole(origin: SourceServer) -> None:
    progress: list[tuple[int, int | None]] = []
    with tempfile.TemporaryFile() as sink:
        fetched = await _fetcher(origin).fetch(
            "http://media.example/clip.mp4?sig=secret",
            sink,
            on_progress=lambda done, total: progress.append((done, total)),
        )
        sink.seek(0)
        assert sink.read() == VIDEO
    assert fetched.size == len(VIDEO)
    assert fetched.content_type == "video/mp4"
    assert progress[-1] == (len(VIDEO), len(VIDEO))
    (seen,) = origin.requests
    assert seen.headers["host"] == "media.example"
    assert seen.headers["accept-encoding"] == "identity"


async def test_rebinding_dns_cannot_steer_the_connection(
    origin: SourceServer, intranet: SourceServer
) -> None:
    """The resolver answers a public address for the check and loopback afterwards: the
    connection goes to the address that was checked, and DNS is asked only once."""
    dns = ScriptedDns({"rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    fetcher = _fetcher(origin, dns)
    assert fetcher.network is not None
    fetcher.network.routes[("127.0.0.1", 80)] = intranet.port  # type: ignore[attr-defined]

    assert await _fetch(fetcher, "http://rebind.example/clip.mp4") == VIDEO

    assert dns.lookups == ["rebind.example"]
    assert fetcher.network.dialed == [(PUBLIC, 80)]  # type: ignore[attr-defined]
    assert intranet.requests == []
    # The same DNS without pinning would have gone to loopback on the second lookup:
    assert [str(a) for a in await dns("rebind.example", 80)] == ["127.0.0.1"]


@pytest.mark.parametrize(
    "host",
    [
        "[64:ff9b::7f00:1]",  # NAT64 well-known prefix around 127.0.0.1
        "[64:ff9b:1::a00:1]",  # local-use NAT64 around 10.0.0.1
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[::7f00:1]",  # IPv4-compatible 127.0.0.1
        "[::ffff:0:7f00:1]",  # IPv4-translated 127.0.0.1
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
        "[fc00::1]",
        "[fe80::1]",
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "private.example",
    ],
)
async def test_non_global_targets_are_refused_without_connecting(
    origin: SourceServer, host: str
) -> None:
    dns = ScriptedDns({"private.example": [[PUBLIC, "10.1.2.3"]]})
    fetcher = _fetcher(origin, dns)
    url = f"http://{host}/clip.mp4"
    with pytest.raises(SourceRefused) as refused:
        await _fetch(fetcher, url)
    assert str(refused.value) == not_fetchable(url)
    assert fetcher.network.dialed == []  # type: ignore[union-attr]


async def test_refused_unresolvable_and_unreachable_hosts_read_the_same(
    origin: SourceServer,
) -> None:
    """A caller cannot tell a private host from one that does not exist or does not answer."""
    fetcher = _fetcher(
        origin,
        ScriptedDns({"internal.example": [["10.0.0.7"]], "dead.example": [["93.184.216.99"]]}),
    )
    texts = []
    for url, failure in [
        ("http://internal.example/x.mp4", SourceRefused),
        ("http://nowhere.example/x.mp4", SourceUnavailable),
        ("http://dead.example/x.mp4", SourceUnavailable),
    ]:
        with pytest.raises(failure) as raised:
            await _fetch(fetcher, url)
        texts.append(str(raised.value).replace(url.split("/")[2], "HOST"))
    assert len(set(texts)) == 1, texts


async def test_redirect_chains_are_followed_and_every_hop_checked(origin: SourceServer) -> None:
    origin.routes |= {
        "/r1": redirect("http://cdn.example/r2", 301),
        "/r2": redirect("/r3", 307),  # relative
        "/r3": redirect("http://media.example/clip.mp4", 308),
    }
    fetcher = _fetcher(origin)
    assert await _fetch(fetcher, "http://media.example/r1") == VIDEO
    assert [seen.path for seen in origin.requests] == ["/r1", "/r2", "/r3", "/clip.mp4"]
    assert [seen.headers["host"] for seen in origin.requests] == [
        "media.example",
        "cdn.example",
        "cdn.example",
        "media.example",
    ]


async def test_a_redirect_to_loopback_is_refused_and_not_named(
    origin: SourceServer, intranet: SourceServer
) -> None:
    origin.routes["/out"] = redirect(f"{intranet.url}/secret")
    with pytest.raises(SourceRefused) as refused:
        await _fetch(_fetcher(origin), "http://media.example/out")
    assert str(refused.value) == not_fetchable("http://media.example/out")
    assert "127.0.0.1" not in str(refused.value)
    assert intranet.requests == []


async def test_more_than_five_redirects_are_refused(origin: SourceServer) -> None:
    origin.routes |= {f"/hop{n}": redirect(f"/hop{n + 1}") for n in range(6)}
    origin.routes["/hop6"] = fixed(VIDEO)
    with pytest.raises(SourceRefused, match="redirects more than 5 times"):
        await _fetch(_fetcher(origin), "http://media.example/hop0")
    origin.requests.clear()
    assert await _fetch(_fetcher(origin), "http://media.example/hop1") == VIDEO  # 5 redirects


async def test_a_source_without_content_length_is_spooled(origin: SourceServer) -> None:
    progress: list[tuple[int, int | None]] = []
    with tempfile.TemporaryFile() as sink:
        fetched = await _fetcher(origin).fetch(
            "http://media.example/chunked.mp4",
            sink,
            on_progress=lambda done, total: progress.append((done, total)),
        )
        sink.seek(0)
        assert sink.read() == VIDEO
    assert fetched.size == len(VIDEO)
    assert all(total is None for _, total in progress)
    assert "content-length" not in origin.requests[0].headers


async def test_a_chunked_source_over_the_cap_is_refused(origin: SourceServer) -> None:
    with pytest.raises(SourceRefused, match="larger than 100000 bytes"):
        await _fetch(_fetcher(origin, max_bytes=100_000), "http://media.example/chunked.mp4")


async def test_a_declared_size_over_the_cap_is_refused_before_reading(
    origin: SourceServer,
) -> None:
    with pytest.raises(SourceRefused, match="larger than 1000 bytes, the most Valossa accepts"):
        await _fetch(_fetcher(origin, max_bytes=1000), "http://media.example/clip.mp4")


async def test_content_encoding_is_never_undone(origin: SourceServer) -> None:
    """A video labelled gzip (a misconfigured server) arrives as the bytes sent, matching its
    Content-Length; a really gzipped file is not a video, refused once."""
    assert await _fetch(_fetcher(origin), "http://media.example/labelled-gzip.mp4") == VIDEO
    with pytest.raises(SourceRefused) as refused:
        await _fetch(_fetcher(origin), "http://media.example/really-gzip.mp4")
    assert "is not a video: it holds gzip-compressed data" in str(refused.value)
    assert "Content-Encoding gzip" in str(refused.value)
    assert len(gzip.compress(VIDEO)) != len(VIDEO)


@pytest.mark.parametrize(
    ("path", "failure", "message"),
    [
        ("/empty.mp4", SourceRefused, "empty body (Content-Length: 0)"),
        ("/page", SourceRefused, "is not a video: it holds an HTML page"),
        ("/gone.mp4", SourceRefused, "answered HTTP 404; give a direct link"),
        ("/busy.mp4", SourceUnavailable, "answered HTTP 503"),
    ],
)
async def test_answers_are_classified_and_name_the_cms_url(
    origin: SourceServer, path: str, failure: type[Exception], message: str
) -> None:
    url = f"http://media.example{path}?token=s3cr3t"
    with pytest.raises(failure) as raised:
        await _fetch(_fetcher(origin), url)
    assert message in str(raised.value)
    assert f"http://media.example{path}" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


async def test_a_dripping_source_fails_the_throughput_rule(origin: SourceServer) -> None:
    origin.routes["/drip.mp4"] = dripping(VIDEO, every_s=0.05, piece=10)
    fetcher = _fetcher(origin, min_bytes_per_s=10_000, window_s=0.5)
    with pytest.raises(SourceUnavailable, match="too slow"):
        await _fetch(fetcher, "http://media.example/drip.mp4")


async def test_a_stalled_source_fails_after_one_window(origin: SourceServer) -> None:
    origin.routes["/stall.mp4"] = dripping(VIDEO, every_s=30, piece=100)
    with pytest.raises(SourceUnavailable, match="stalled"):
        await _fetch(_fetcher(origin, window_s=0.3), "http://media.example/stall.mp4")


async def test_a_download_has_a_total_time_limit(origin: SourceServer) -> None:
    origin.routes["/slow.mp4"] = dripping(VIDEO, every_s=0.01, piece=1000)
    with pytest.raises(SourceUnavailable, match="did not finish within"):
        await _fetch(_fetcher(origin, total_s=0.3), "http://media.example/slow.mp4")


def test_throughput_is_judged_per_window_not_per_read() -> None:
    rule = Throughput(min_bytes_per_s=100, window_s=10)
    start = rule._mark[0]
    assert rule.keeps_up(50, now=start + 5)  # within the first window: no verdict yet
    assert rule.keeps_up(1_500, now=start + 10)  # 150 B/s
    assert not rule.keeps_up(1_600, now=start + 20)  # 10 B/s over the next window
    assert rule.last_rate == pytest.approx(10)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Self-signed certificates for media.example and for another name (openssl)."""
    directory = tmp_path_factory.mktemp("tls")
    made = {}
    for name in ("media.example", "other.example"):
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
             "-addext", f"subjectAltName=DNS:{name}"],
            check=True, capture_output=True,
        )  # fmt: skip
        made[name] = cert
    return made


@pytest.mark.parametrize("served_as", ["media.example", "other.example"])
async def test_tls_verifies_and_names_the_url_host_not_the_pinned_address(
    certificates: dict[str, Path], served_as: str
) -> None:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert = certificates[served_as]
    server_tls.load_cert_chain(cert, cert.with_suffix(".key"))
    client_tls = ssl.create_default_context(cafile=str(certificates[served_as]))
    async with SourceServer({"/clip.mp4": fixed(VIDEO)}, ssl_context=server_tls).running() as tls:
        fetcher = Fetcher(
            limits=LIMITS,
            resolver=ScriptedDns({"media.example": [[PUBLIC]]}),
            network=RoutedNetwork({(PUBLIC, 443): tls.port}),
            ssl_context=client_tls,
        )
        if served_as == "media.example":
            assert await _fetch(fetcher, "https://media.example/clip.mp4") == VIDEO
            (seen,) = tls.requests
            assert seen.server_name == "media.example"
            assert seen.headers["host"] == "media.example"
        else:
            with pytest.raises(SourceRefused, match="TLS certificate is not valid"):
                await _fetch(fetcher, "https://media.example/clip.mp4")


async def test_a_client_that_stops_reading_closes_the_connection(origin: SourceServer) -> None:
    """Cancelling a download (a cancel, a delete) drops the connection to the origin."""
    origin.routes["/long.mp4"] = dripping(VIDEO, every_s=0.05, piece=100)
    task = asyncio.create_task(_fetch(_fetcher(origin), "http://media.example/long.mp4"))
    await eventually(lambda: origin.hits("/long.mp4"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(origin.hits("/long.mp4")[0].gone.wait(), timeout=10)
