"""Unguessable callback tokens bound to one analysis: <analysis id>.<HMAC of it>."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid


class CallbackTokens:
    """Signs and verifies the token in PUBLIC_BASE_URL/callbacks/valossa/<token>."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def _mac(self, analysis_id: uuid.UUID) -> str:
        digest = hmac.new(self._key, b"callback:" + analysis_id.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def token_for(self, analysis_id: uuid.UUID) -> str:
        """The token for one analysis."""
        return f"{analysis_id.hex}.{self._mac(analysis_id)}"

    def verify(self, token: str) -> uuid.UUID | None:
        """The analysis a token was issued for, or None if it is malformed or forged."""
        if not self._key:
            return None
        raw_id, _, mac = token.partition(".")
        try:
            analysis_id = uuid.UUID(hex=raw_id)
        except ValueError:
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(analysis_id).encode()):
            return None
        return analysis_id
