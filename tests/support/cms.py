"""A CMS webhook endpoint on loopback that records what it receives and answers as told."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.process.serving import serve_in_background


def _secret(label: str) -> str:
    # Fixed (the same in every xdist worker, so parametrized ids agree), 32 bytes like real ones.
    return "whsec_" + base64.b64encode(hashlib.sha256(label.encode()).digest()).decode()


#: Two secrets in the Standard Webhooks form.
SECRET = _secret("test webhook secret")
OLD_SECRET = _secret("old test webhook secret")


@dataclass
class Received:
    """One request the CMS got."""

    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verify(self, secret: str) -> dict[str, Any]:
        """The payload, verified as the CMS would with the reference library (raises if not)."""
        verified: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return verified


Answer = Callable[[Received], Awaitable[Response]]


async def acknowledge(_: Received) -> Response:
    return Response(status_code=204)


@dataclass
class Cms:
    """What the endpoint received, in order; `answer` decides each response."""

    received: list[Received] = field(default_factory=list)
    answer: Answer = acknowledge

    async def endpoint(self, request: Request) -> Response:
        got = Received(dict(request.headers), await request.body(), time.monotonic())
        self.received.append(got)
        return await self.answer(got)

    def of_media(self, customer_media_id: str) -> list[Received]:
        """The requests about one media."""
        return [
            r for r in self.received if r.payload["data"]["customer_media_id"] == customer_media_id
        ]


@contextlib.asynccontextmanager
async def running_cms() -> AsyncIterator[tuple[Cms, str]]:
    """A CMS endpoint and its URL, for the block."""
    cms = Cms()
    app = Starlette(routes=[Route("/hooks", cms.endpoint, methods=["POST"])])
    async with serve_in_background(app) as server:
        yield cms, f"{server.url}/hooks"
