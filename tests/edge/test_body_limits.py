"""Bodies nobody should make us hold: the real server, raw requests, its memory measured.

Each attack sends up to 64 MiB; before the fix one chunked 64 MiB request grew the process by
about 54 MiB. The process's memory may not grow by more than the body limit of the route, plus
what the allocator does on its own: after the warm-up it moved by 0 to 96 KiB per request
(pages, arenas), so MEMORY_NOISE allows 1 MiB, still 50 times less than a body read whole.
"""

from __future__ import annotations

import uuid

import pytest

from service.analyses.tokens import CallbackTokens
from tests.edge.live_service import SERVE_ENV, LiveService
from tests.edge.raw_http import read_response, request_head, send_chunked_until_answered

ATTACK_BYTES = 64 * 1024 * 1024
MEMORY_NOISE = 1024 * 1024
CALLBACK_LIMIT = 16 * 1024
API_LIMIT = 64 * 1024
TOKENS = CallbackTokens(SERVE_ENV["CALLBACK_SIGNING_SECRET"])
JSON = "Content-Type: application/json"
BEARER = f"Authorization: Bearer {SERVE_ENV['INGEST_API_TOKENS']}"


def _attack(live: LiveService, head: bytes, total: int) -> tuple[int, int]:
    """Send a chunked body of up to `total` bytes; the answer's status and the bytes sent."""
    with live.connect() as sock:
        sent = send_chunked_until_answered(sock, head, total)
        response = read_response(sock)
    assert response.headers.get("content-type") == "application/problem+json"
    return response.status, sent


def _growth_of_attack(live: LiveService, head: bytes) -> tuple[int, int, int]:
    """Warm the path up with small bodies, then attack once: status, bytes sent, RSS growth."""
    for _ in range(3):
        _attack(live, head, 512 * 1024)
    before = live.rss()
    status, sent = _attack(live, head, ATTACK_BYTES)
    return status, sent, live.rss() - before


@pytest.mark.parametrize("encoding", ["chunked", "Chunked", "CHUNKED", "gzip, chunked"])
def test_a_callback_with_a_forged_token_is_refused_before_its_body_is_read(
    live: LiveService, encoding: str
) -> None:
    head = request_head("POST", "/callbacks/valossa/forged", f"Transfer-Encoding: {encoding}")
    status, sent, growth = _growth_of_attack(live, head)
    assert status == 404
    assert growth <= CALLBACK_LIMIT + MEMORY_NOISE, f"grew {growth} bytes while {sent} were sent"


@pytest.mark.parametrize("encoding", ["chunked", "Chunked"])
def test_a_callback_body_over_the_limit_gets_413_whatever_the_headers_say(
    live: LiveService, encoding: str
) -> None:
    token = TOKENS.token_for(uuid.uuid4())
    head = request_head("POST", f"/callbacks/valossa/{token}", f"Transfer-Encoding: {encoding}")
    status, sent, growth = _growth_of_attack(live, head)
    assert status == 413
    assert growth <= CALLBACK_LIMIT + MEMORY_NOISE, f"grew {growth} bytes while {sent} were sent"


def test_a_cms_request_without_a_token_is_refused_before_its_body_is_read(
    live: LiveService,
) -> None:
    head = request_head("POST", "/v1/analyses", "Transfer-Encoding: CHUNKED", JSON)
    status, sent, growth = _growth_of_attack(live, head)
    assert status == 401
    assert growth <= API_LIMIT + MEMORY_NOISE, f"grew {growth} bytes while {sent} were sent"


def test_an_authenticated_body_over_the_limit_gets_413(live: LiveService) -> None:
    head = request_head("POST", "/v1/analyses", "Transfer-Encoding: Chunked", JSON, BEARER)
    status, sent, growth = _growth_of_attack(live, head)
    assert status == 413
    assert growth <= API_LIMIT + MEMORY_NOISE, f"grew {growth} bytes while {sent} were sent"


def test_a_content_length_that_understates_the_chunked_body_does_not_help(
    live: LiveService,
) -> None:
    token = TOKENS.token_for(uuid.uuid4())
    head = request_head(
        "POST", f"/callbacks/valossa/{token}", "Content-Length: 10", "Transfer-Encoding: chunked"
    )
    status, sent, growth = _growth_of_attack(live, head)
    # The HTTP parser refuses the ambiguous framing outright, or the counted bytes do.
    assert status in (400, 413)
    assert growth <= CALLBACK_LIMIT + MEMORY_NOISE, f"grew {growth} bytes while {sent} were sent"


def test_a_declared_length_over_the_limit_is_refused_before_any_byte(live: LiveService) -> None:
    with live.connect() as sock:
        sock.sendall(request_head("POST", "/v1/analyses", BEARER, JSON, "Content-Length: 999999"))
        response = read_response(sock)
    assert response.status == 413
    assert response.headers["connection"] == "close"


def test_a_body_that_drips_in_is_cut_off_with_408(live: LiveService) -> None:
    with live.connect() as sock:
        sock.sendall(request_head("POST", "/v1/analyses", BEARER, JSON, "Content-Length: 100"))
        sock.sendall(b'{"customer_media_id": ')  # ... and nothing more: the body never ends
        response = read_response(sock)
    assert response.status == 408
    assert response.headers["content-type"] == "application/problem+json"
