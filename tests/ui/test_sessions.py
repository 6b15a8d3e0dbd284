"""Operator sessions: signed, expiring, bound to one key, never holding the token."""

from __future__ import annotations

import base64
import json

from service.ui.sessions import SESSION_SECONDS, decode, encode, new_session, session_key

KEY = session_key("signing-secret")


def test_a_session_round_trips_and_expires() -> None:
    session = new_session("token-0123456789ab", now=1_000)
    value = encode(session.with_flash("Saved."), KEY)

    assert decode(value, KEY, now=1_000) == session.with_flash("Saved.")
    assert decode(value, KEY, now=1_000 + SESSION_SECONDS + 1) is None
    assert len(session.csrf) >= 40
    assert new_session("token-0123456789ab").csrf != session.csrf


def test_tampered_or_foreign_cookies_are_refused() -> None:
    value = encode(new_session("token-0123456789ab", now=1_000), KEY)
    payload, _, signature = value.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["fingerprint"] = "token-ffffffffffff"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    assert decode(f"{forged}.{signature}", KEY, now=1_000) is None
    assert decode(value, session_key("another-secret"), now=1_000) is None
    for garbage in ("", ".", "abc", "a.b.c", "%%%.%%%"):
        assert decode(garbage, KEY, now=1_000) is None
