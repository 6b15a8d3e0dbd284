"""Fault injection on the Valossa paths: latency, 429 throttling, 5xx errors, lost responses.

A lost response is the nasty one: the call takes effect (new_job creates its job), then the client
gets a 500 or a connection dropped mid-answer, and may be tempted to submit twice.
`/_emulator/*` is never touched.
"""

from __future__ import annotations

import asyncio
import json
from typing import cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.emulator.state import EmulatorState

VALOSSA_PREFIXES = ("/core/", "/training/")
ERROR_CODES = (500, 502, 503)


class FaultInjector:
    """ASGI middleware that rolls the configured faults for every Valossa API call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(VALOSSA_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = cast(EmulatorState, scope["app"].state.emulator)
        state.stats.calls[scope["path"].rsplit("/", 1)[-1]] += 1
        config, rng = state.config, state.fault_rng
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if rng.random() < config.throttle_rate:
            headers = {"retry-after": str(config.retry_after_s)}
            await _send_error(send, 429, "Too many requests, slow down", headers)
            return
        if rng.random() < config.error_rate:
            await _send_error(send, rng.choice(ERROR_CODES), "Service temporarily unavailable")
            return
        if rng.random() >= config.lost_response_rate:
            await self.app(scope, receive, send)
            return
        drop_connection = rng.random() < 0.5

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        if drop_connection:
            # Promise a body and end without it: the server closes the connection mid-answer.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            return
        await _send_error(send, 500, "Internal server error")


async def _send_error(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"errors": [{"message": message}]}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
