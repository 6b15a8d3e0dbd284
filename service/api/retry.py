"""Reading requests retried once when they met a pooled connection that had died.

The pool does not ping a connection before each use (a round trip per request): a connection
that died with a Postgres restart fails the one statement that meets it, and that error makes
the pool replace every connection it held. A GET or HEAD changed nothing, so it is run again
once, on a fresh connection, and the client never sees the 503 of that first attempt.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Set in the request's state by the database error handler when the connection was lost.
CONNECTION_LOST = "database_connection_lost"

_SAFE_METHODS = frozenset({"GET", "HEAD"})


def connection_lost(scope: Scope) -> bool:
    """True if the request's database connection died under it."""
    return bool(scope.get("state", {}).get(CONNECTION_LOST))


class RetryReadsOnLostConnection:
    """Run a GET/HEAD once more when its first attempt lost its database connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        state: dict[str, object] = dict(scope.get("state") or {})
        first = {**scope, "state": state}
        held: list[Message] = []

        async def hold_if_lost(message: Message) -> None:
            if state.get(CONNECTION_LOST):
                held.append(message)  # the answer to a lost connection: not sent, retried
            else:
                await send(message)

        await self.app(first, receive, hold_if_lost)
        if held:
            await self.app({**scope, "state": dict(scope.get("state") or {})}, receive, send)
