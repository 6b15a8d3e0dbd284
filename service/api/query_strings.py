"""Query strings must be UTF-8 (ASGI).

Starlette decodes a percent-encoded byte that is not UTF-8 to U+FFFD, so `?q=%FF` would search
for a replacement character and `?customer_media_id=%FF` list nothing, both answering 200. The
same bytes in a media id's path segment are a 422 (api/media_paths.py); so are they here.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.problems import validation_problem


class Utf8QueryStrings:
    """Answer 422 to a request whose query string does not decode as UTF-8."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query and not _is_utf8(query):
            error = {
                "loc": ["query"],
                "msg": "must be UTF-8, percent-encoded",
                "type": "value_error",
            }
            await validation_problem([error])(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_utf8(query: bytes) -> bool:
    try:
        unquote_to_bytes(query).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
