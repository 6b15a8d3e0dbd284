"""Operator sessions: a signed, expiring cookie that names a token by its fingerprint only.

The cookie holds `{fingerprint, csrf, expires, flash}` as base64 JSON with an HMAC-SHA256
over it, keyed from CALLBACK_SIGNING_SECRET. It never holds the token; a session ends when it
expires, at sign-out, or as soon as its token is removed from INGEST_API_TOKENS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace

SESSION_COOKIE = "vi_session"
SIGN_IN_COOKIE = "vi_sign_in"
#: How long a sign-in lasts.
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class OperatorSession:
    """Who signed in (a token fingerprint), the session's CSRF token, a one-time message."""

    fingerprint: str
    csrf: str
    expires: int
    flash: str | None = None

    def with_flash(self, message: str | None) -> OperatorSession:
        """The same session carrying a message for the next page."""
        return replace(self, flash=message)


def new_session(fingerprint: str, *, now: float | None = None) -> OperatorSession:
    """A fresh session with its own CSRF token."""
    issued = time.time() if now is None else now
    return OperatorSession(
        fingerprint=fingerprint,
        csrf=secrets.token_urlsafe(32),
        expires=int(issued + SESSION_SECONDS),
    )


def session_key(signing_secret: str) -> bytes:
    """The key of session signatures, derived so that it signs nothing else."""
    return hmac.new(signing_secret.encode(), b"operator-session", hashlib.sha256).digest()


def encode(session: OperatorSession, key: bytes) -> str:
    """The cookie value of a session."""
    payload = base64.urlsafe_b64encode(json.dumps(asdict(session)).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(_mac(key, payload)).rstrip(b"=")
    return f"{payload.decode()}.{signature.decode()}"


def decode(value: str, key: bytes, *, now: float | None = None) -> OperatorSession | None:
    """The session of a cookie value; None if it is forged, malformed or expired."""
    payload, _, signature = value.encode().partition(b".")
    try:
        expected = _mac(key, payload)
        given = base64.urlsafe_b64decode(signature + b"=" * (-len(signature) % 4))
        if not hmac.compare_digest(expected, given):
            return None
        raw = base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
        session = OperatorSession(**json.loads(raw))
    except (binascii.Error, ValueError, TypeError):
        return None
    if session.expires < (time.time() if now is None else now):
        return None
    return session


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()
