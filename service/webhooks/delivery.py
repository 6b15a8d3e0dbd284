"""One attempt to send a delivery, bounded in time whatever the CMS does, and the retry schedule."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from service.webhooks.signing import signed_headers

USER_AGENT = "valossa-ingest-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the CMS's status, or what went wrong (None when delivered)."""

    status_code: int | None
    error: str | None
    duration_s: float


def body_of(payload: dict[str, Any]) -> str:
    """The exact JSON text sent (and signed)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


async def send(
    http: httpx.AsyncClient,
    url: str,
    secrets: Sequence[str],
    message_id: str,
    payload: dict[str, Any],
    *,
    timeout_s: float,
) -> Outcome:
    """POST one signed delivery; the whole attempt (connect, send, every byte of the answer)
    ends within `timeout_s`. Never raises for anything the network or the URL does."""
    body = body_of(payload)
    started = time.monotonic()
    status_code: int | None = None
    try:
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(secrets, message_id, body),
        }
        async with asyncio.timeout(timeout_s):
            response = await http.post(
                url, content=body.encode(), headers=headers, timeout=timeout_s
            )
        status_code = response.status_code
        error = None if response.is_success else f"HTTP {status_code}"
    except TimeoutError:
        error = f"no complete answer within {timeout_s:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # a URL httpx refuses, a TLS setup error...: still an attempt
        error = f"could not send: {type(exc).__name__}"
    return Outcome(status_code, error, time.monotonic() - started)


def retry_delay(tries: int, schedule: Sequence[float]) -> float | None:
    """Seconds to wait after the `tries`-th failed attempt in a row (+-10 % jitter, so that
    deliveries held up together do not come back together); None when the schedule is spent."""
    if tries > len(schedule):
        return None
    return schedule[tries - 1] * random.uniform(0.9, 1.1)
