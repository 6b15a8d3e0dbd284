"""Valossa's error bodies never carry our API key into errors, events, webhooks or logs."""

from __future__ import annotations

import json

import httpx
import pytest

from service.valossa.errors import SNIPPET_CHARS, error_from_response
from service.valossa.redact import mask_fragments

KEY = "k3y-0123456789abcdefghij"  # 24 characters


def _error_text(status: int, body: bytes) -> str:
    response = httpx.Response(status, content=body, request=httpx.Request("GET", "http://v"))
    error = error_from_response(response, function="job_status", redact=(KEY,))
    assert error is not None
    return " | ".join([str(error), *getattr(error, "messages", ())])


def _leaked(text: str) -> list[str]:
    """Every run of 6 or more of the key's characters that appears in `text`."""
    return [KEY[i : i + 6] for i in range(len(KEY) - 5) if KEY[i : i + 6] in text]


@pytest.mark.parametrize(
    "body",
    [
        # The key right where the old code cut the body at 200 bytes.
        b"x" * 180 + f"api_key={KEY} is not valid".encode(),
        b"<html>" + b"y" * 180 + KEY.encode() + b"</html>",
        # A proxy that echoes part of the key, or the key split by markup.
        f"unknown key {KEY[:10]}... and {KEY[-8:]}".encode(),
        f"{KEY[:12]}<b>{KEY[12:]}</b>".encode(),
    ],
)
def test_a_non_json_error_body_never_leaks_the_key(body: bytes) -> None:
    text = _error_text(502, body)
    assert _leaked(text) == []
    assert len(text) < SNIPPET_CHARS + 200


def test_valossa_messages_never_leak_the_key_and_stay_short() -> None:
    body = json.dumps(
        {"errors": [{"message": f"Invalid api_key {KEY[2:]}"}, {"message": "z" * 5000}]}
    ).encode()
    text = _error_text(401, body)
    assert _leaked(text) == []
    assert "Invalid api_key" in text
    assert len(text) < 1500


def test_fragments_are_masked_but_unrelated_text_is_kept() -> None:
    masked = mask_fragments(f"id=job-1 {KEY[3:15]} end {KEY[:5]}", KEY)
    assert masked == f"id=job-1 ********** end {KEY[:5]}"  # five characters alone say nothing
    assert mask_fragments("nothing here", KEY) == "nothing here"
    assert mask_fragments("abc abcd", "abcd") == "abc **********"  # a short key: whole only
