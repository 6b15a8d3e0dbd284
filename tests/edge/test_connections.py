"""Connections as slow, silent, lying or greedy clients hold them: the real server, raw sockets.

The service under test has HTTP_HEADER_TIMEOUT_S=1 and HTTP_KEEPALIVE_TIMEOUT_S=1; the
sockets' own 30 s timeout only bounds a test that would otherwise hang.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from tests.edge.live_service import AUTH, LiveService, running_service
from tests.edge.raw_http import closed_by_server, read_response, request_head

BEARER = f"Authorization: {AUTH['Authorization']}"


def test_a_connection_that_never_sends_anything_is_closed(live: LiveService) -> None:
    with live.connect() as sock:
        assert closed_by_server(sock)


def test_headers_that_drip_in_line_by_line_are_cut_off(live: LiveService) -> None:
    with live.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        lines_sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while lines_sent < 200:  # 200 lines 0.25 s apart: 50 s, far past the 1 s allowed
                sock.sendall(b"X-Slow: 1\r\n")
                lines_sent += 1
                time.sleep(0.25)
        assert closed_by_server(sock)
    assert lines_sent < 200, "the server kept reading the headers"


def test_an_idle_kept_alive_connection_is_closed(live: LiveService) -> None:
    with live.connect() as sock:
        sock.sendall(request_head("GET", "/healthz"))
        assert read_response(sock).status == 200
        assert closed_by_server(sock)


def test_a_flood_of_header_lines_gets_431_and_costs_no_memory(live: LiveService) -> None:
    line = b"X-Pad: " + b"a" * 8000 + b"\r\n"
    before = live.rss()
    with live.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(8 * 1024):  # up to 64 MiB of headers
                sock.sendall(line)
        response = read_response(sock)
    assert response.status == 431
    assert response.headers["content-type"] == "application/problem+json"
    assert live.rss() - before < 1024 * 1024


def test_a_host_header_is_never_reflected_in_a_redirect(live: LiveService) -> None:
    with live.connect() as sock:
        sock.sendall(
            request_head("GET", "/v1/analyses/", BEARER).replace(
                b"Host: 127.0.0.1", b"Host: evil.example"
            )
        )
        response = read_response(sock)
    assert response.status == 404
    assert "location" not in response.headers
    assert b"evil.example" not in response.body


def _client_logged_for(service: LiveService, path: str) -> str:
    """The client address the access log names for the (last) request to `path`."""
    for record in reversed(service.log_records()):
        http = record.get("http") or {}
        if http.get("path") == path:
            return str(http["client"])
    raise AssertionError(f"no access log record for {path}")


def _forged_request(service: LiveService, path: str) -> None:
    with service.connect() as sock:
        sock.sendall(request_head("GET", path, "X-Forwarded-For: 203.0.113.9"))
        assert read_response(sock).status == 200


def test_forwarded_headers_count_only_from_forwarded_allow_ips(
    live: LiveService, migrated_database: str, tmp_path: Path
) -> None:
    # Our loopback peer is in the default FORWARDED_ALLOW_IPS (127.0.0.1): a proxy we trust.
    _forged_request(live, "/healthz")
    assert _client_logged_for(live, "/healthz").startswith("203.0.113.9")
    # Behind a proxy at another address, the same header from us is ignored.
    with running_service(
        migrated_database, tmp_path / "serve.log", FORWARDED_ALLOW_IPS="10.20.30.40"
    ) as untrusting:
        _forged_request(untrusting, "/healthz")
        assert _client_logged_for(untrusting, "/healthz").startswith("127.0.0.1")


def test_websocket_upgrades_are_not_spoken(live: LiveService) -> None:
    with live.connect() as sock:
        sock.sendall(
            request_head(
                "GET",
                "/healthz",
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            )
        )
        response = read_response(sock)
    assert response.status == 200  # answered as plain HTTP, never switched
    assert "upgrade" not in response.headers
