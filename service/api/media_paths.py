"""`/v1/media/{customer_media_id}/...`: any customer_media_id as ONE percent-encoded segment.

CMS ids are often paths (`shows/42/episode.mp4`). A client writes the id as one path segment,
percent-encoded (`encodeURIComponent`, `urllib.parse.quote(id, safe="")`): `/` as `%2F`, `%`
as `%25`, `?` as `%3F`, `#` as `%23`. The server decodes a path before routing, which would turn
`%2F` back into a separator; so for this prefix `MediaIdSegments` routes on the raw path and
keeps the id segment encoded, and `MediaIdPath` decodes it exactly once. Sub-resources
(`/metadata`, `/summary`, `/timeline`, ...) stay addressable: every route under the prefix
declares `{customer_media_id}` as its first segment and takes a `MediaIdPath`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, unquote, unquote_to_bytes

from fastapi import Path
from pydantic import AfterValidator
from starlette.types import ASGIApp, Receive, Scope, Send

from service.analyses.inputs import MEDIA_ID_EXCLUDED, MEDIA_ID_PATTERN, media_id

MEDIA_PREFIX = "/v1/media/"
MAX_MEDIA_ID_CHARS = 1024


class MediaIdSegments:
    """Route `/v1/media/<id>/...` with the id segment still percent-encoded (ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(MEDIA_PREFIX):
            raw = scope.get("raw_path")
            if raw is not None:
                scope = {**scope, "path": encoded_media_path(raw)}
        await self.app(scope, receive, send)


def encoded_media_path(raw_path: bytes) -> str:
    """The decoded path of a raw `/v1/media/<id>/...` request path, except that the id segment
    is kept percent-encoded (every byte but unreserved ASCII), so it holds no `/`."""
    segments = raw_path.split(b"/")
    decoded = [unquote_to_bytes(segment).decode("utf-8", "replace") for segment in segments]
    # ["", "v1", "media", <id>, <sub-resource>...]; the prefix itself may have been encoded.
    if decoded[:3] != ["", "v1", "media"] or len(segments) < 4:
        return "/".join(decoded)
    encoded_id = quote(unquote_to_bytes(segments[3]), safe="")
    return "/".join([*decoded[:3], encoded_id, *decoded[4:]])


def decode_media_id(segment: str) -> str:
    """The customer_media_id of an encoded id segment; ValueError if it is not a valid one."""
    try:
        value = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("must be UTF-8, percent-encoded as one path segment") from None
    if not 1 <= len(value) <= MAX_MEDIA_ID_CHARS:
        raise ValueError(f"must be 1 to {MAX_MEDIA_ID_CHARS} characters long")
    return media_id(value)


MediaIdPath = Annotated[
    str,
    Path(
        description="The media's customer_media_id as ONE percent-encoded path segment "
        "(`/` as `%2F`, `%` as `%25`, `?` as `%3F`, `#` as `%23`).",
        json_schema_extra={
            "minLength": 1,
            "maxLength": MAX_MEDIA_ID_CHARS,
            "pattern": MEDIA_ID_PATTERN,
            "not": {"enum": list(MEDIA_ID_EXCLUDED)},
        },
    ),
    AfterValidator(decode_media_id),
]
