"""Request bodies: a size limit on the bytes actually received and a time limit (ASGI).

Headers are not trusted: Content-Length may lie and Transfer-Encoding may say chunked in any
case, so the bytes are counted as the app reads them, and the app reads them only when it needs
them (after authentication). Nothing is buffered here: memory stays at what the app keeps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import problem, reason_phrase


class BodyTooLarge(HTTPException):
    """The request body went past its limit; the connection is closed after the answer."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body exceeds the limit of {limit} bytes",
            headers={"Connection": "close"},
        )


class BodyTooSlow(HTTPException):
    """The request body did not arrive in time; the connection is closed after the answer."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within {timeout_s:g} seconds",
            headers={"Connection": "close"},
        )


_ANY = re.compile(".*")


class LengthRequired(HTTPException):
    """A route that streams large bodies through needs to know their length up front."""

    def __init__(self) -> None:
        super().__init__(
            411, "send the body with a Content-Length", headers={"Connection": "close"}
        )


@dataclass(frozen=True)
class RouteLimit:
    """The body rules of the paths matching `pattern`, before the prefixes: a size limit, a
    time limit (None: the guard's), and whether a Content-Length is required (411 without one)
    for routes that stream large bodies on instead of reading them whole."""

    pattern: re.Pattern[str]
    limit: int
    timeout_s: float | None = None
    length_required: bool = False


class RequestBodyGuard:
    """Enforce a per-path-prefix size limit and a time limit on request bodies.

    A Content-Length over the limit is refused before a byte is read. Otherwise the bytes are
    counted as the app reads them, and the read fails with BodyTooLarge (413) past the limit
    or BodyTooSlow (408) past the deadline, whatever the headers said. A response sent while
    part of the body is still unread closes the connection, so that the rest is never read.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        by_prefix: dict[str, int],
        timeout_s: float,
        routes: Sequence[RouteLimit] = (),
    ) -> None:
        self.app = app
        self.default = default
        self.by_prefix = by_prefix
        self.timeout_s = timeout_s
        self.routes = routes

    def rule_for(self, path: str) -> RouteLimit:
        """The body rules of a request path."""
        for route in self.routes:
            if route.pattern.fullmatch(path):
                return route
        for prefix, limit in self.by_prefix.items():
            if path.startswith(prefix):
                return RouteLimit(_ANY, limit)
        return RouteLimit(_ANY, self.default)

    def limit_for(self, path: str) -> int:
        """The body size limit of a request path."""
        return self.rule_for(path).limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.rule_for(scope["path"])
        limit = rule.limit
        if _declares_more_than(scope, limit):
            await _answer(BodyTooLarge(limit), scope, receive, send)
            return
        if rule.length_required and _announces_body(scope) and not _declares_length(scope):
            await _answer(LengthRequired(), scope, receive, send)
            return
        body = _CountedBody(receive, limit=limit, timeout_s=rule.timeout_s or self.timeout_s)
        body.complete = not _announces_body(scope)
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body.complete:
                    headers = [*message.get("headers", []), (b"connection", b"close")]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, body.receive, guarded_send)
        except (BodyTooLarge, BodyTooSlow) as exc:
            if started:
                raise
            await _answer(exc, scope, receive, guarded_send)


class _CountedBody:
    """A receive() that counts body bytes and bounds the time until the body is complete."""

    def __init__(self, receive: Receive, *, limit: int, timeout_s: float) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout_s = timeout_s
        self._deadline: float | None = None
        self.received = 0
        self.complete = False

    async def receive(self) -> Message:
        if self.complete:
            # Afterwards the app only waits for a disconnect (streaming responses do, for long).
            return await self._receive()
        if self._deadline is None:
            self._deadline = anyio.current_time() + self._timeout_s
        message: Message | None = None
        with anyio.move_on_after(max(0.0, self._deadline - anyio.current_time())):
            message = await self._receive()
        if message is None:
            raise BodyTooSlow(self._timeout_s)
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self._limit:
                raise BodyTooLarge(self._limit)
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True
        return message


def _announces_body(scope: Scope) -> bool:
    """True if the request has a body (HTTP/1.1: a Transfer-Encoding, or a Content-Length
    other than 0)."""
    for name, value in scope.get("headers") or []:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def _declares_length(scope: Scope) -> bool:
    """True if the request states its body's length (Content-Length)."""
    return any(name == b"content-length" for name, _ in scope.get("headers") or [])


def _declares_more_than(scope: Scope, limit: int) -> bool:
    """True if a Content-Length header announces more than `limit` bytes (or is unreadable)."""
    for name, value in scope.get("headers") or []:
        if name == b"content-length" and (not value.isdigit() or int(value) > limit):
            return True
    return False


async def _answer(exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(
        exc.status_code, reason_phrase(exc.status_code), exc.detail, headers=exc.headers
    )
    await response(scope, receive, send)
