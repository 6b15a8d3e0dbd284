"""When and how long to wait before retrying a Valossa call: two small pure functions.

Exponential backoff with full jitter (delay drawn uniformly from [0, min(cap, base * 2**n)]),
bounded by a number of attempts and a total time budget. A server's Retry-After wins over the
computed delay. Only calls marked idempotent are ever retried (never new_job).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from service.valossa.errors import ValossaError


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop; `sleep` and `random` are injectable so tests need not wait."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total: float = 120.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)


#: A policy that never retries (for callers that do their own scheduling).
NO_RETRY = RetryPolicy(max_attempts=1)


def delay(attempt: int, retry_after: float | None, policy: RetryPolicy = RetryPolicy()) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    if retry_after is not None:
        return retry_after
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    return policy.random() * ceiling


def should_retry(
    error: ValossaError,
    *,
    idempotent: bool,
    attempt: int,
    elapsed: float,
    wait: float,
    policy: RetryPolicy,
) -> bool:
    """True if attempt number `attempt` failing with `error` deserves another try after `wait`."""
    return (
        idempotent
        and error.retryable
        and attempt < policy.max_attempts
        and elapsed + wait <= policy.max_total
    )
