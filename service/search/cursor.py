"""Opaque, signed search cursors: a keyset position bound to the search that produced it.

A cursor carries the last (score, analysis id) of a page and a digest of the search's
filters, signed with a key derived from CALLBACK_SIGNING_SECRET: a cursor that was altered,
made up, or reused with other filters is refused with 400 instead of returning a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from decimal import Decimal, InvalidOperation

from service.errors import BadRequest

_CONTEXT = b"valossa-ingest search cursor v1"


class SearchCursors:
    """Encodes and checks search cursors with one process-wide secret."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()

    def encode(self, search_digest: str, score: Decimal | float, analysis_id: uuid.UUID) -> str:
        """The cursor of the position after (score, analysis_id) in one search."""
        payload = json.dumps([str(score), analysis_id.hex, search_digest]).encode()
        body = _b64(payload)
        return f"{body}.{self._mac(body)}"

    def decode(self, cursor: str, search_digest: str) -> tuple[Decimal, uuid.UUID]:
        """The position in a cursor made by `encode` for the same search, or a 400 problem."""
        body, _, mac = cursor.partition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise BadRequest("invalid cursor: pass the next_cursor of a previous page unchanged")
        try:
            score, analysis_hex, digest = json.loads(base64.urlsafe_b64decode(body + "==="))
            position = Decimal(score), uuid.UUID(hex=analysis_hex)
        except (binascii.Error, ValueError, TypeError, InvalidOperation):
            raise BadRequest("invalid cursor: pass the next_cursor of a previous page") from None
        if digest != search_digest:
            raise BadRequest("this cursor belongs to another search: repeat the same q and filters")
        return position

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16])


def search_digest(parameters: dict[str, object]) -> str:
    """A digest of what a search asks for (not its page size), to bind cursors to it."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
