"""A limit on request body sizes, enforced before the app reads a byte too many (ASGI)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PROBLEM_JSON

#: Bodies of the CMS API are small JSON documents.
DEFAULT_MAX_BODY = 64 * 1024
#: Valossa's callback is a tiny JSON object.
CALLBACK_MAX_BODY = 16 * 1024


@dataclass(frozen=True)
class RouteLimit:
    """The body limit of the paths matching `pattern` (checked before the prefixes). With
    `length_required`, a body without Content-Length is refused (411) instead of being read
    into memory: for routes that stream large bodies through."""

    pattern: re.Pattern[str]
    limit: int
    length_required: bool = False


class BodySizeLimit:
    """Answer 413 (problem details) to a body over the limit of its path prefix.

    A declared Content-Length is checked up front; a chunked body is read up to the limit
    first and then replayed to the app, so the app never sees a partial body.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int = DEFAULT_MAX_BODY,
        by_prefix: dict[str, int] | None = None,
        routes: Sequence[RouteLimit] = (),
    ) -> None:
        self.app = app
        self.default = default
        self.by_prefix = by_prefix or {"/callbacks/": CALLBACK_MAX_BODY}
        self.routes = routes

    def limit_for(self, path: str) -> int:
        """The body limit of a request path."""
        return self._rule_for(path).limit

    def _rule_for(self, path: str) -> RouteLimit:
        for route in self.routes:
            if route.pattern.fullmatch(path):
                return route
        for prefix, limit in self.by_prefix.items():
            if path.startswith(prefix):
                return RouteLimit(re.compile(re.escape(prefix)), limit)
        return RouteLimit(re.compile(".*"), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self._rule_for(scope["path"])
        limit = rule.limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await _too_large(send, limit)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)
            return
        if rule.length_required:
            await _refuse(send, 411, "Length Required", "send the body with a Content-Length")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await _too_large(send, limit)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    detail = f"the request body exceeds the limit of {limit} bytes"
    await _refuse(send, 413, "Content Too Large", detail)


async def _refuse(send: Send, status: int, title: str, detail: str) -> None:
    payload = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
