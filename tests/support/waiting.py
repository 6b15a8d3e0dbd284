"""Waiting for a condition without sleeping a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T] | T],
    *,
    within: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Call `check` (sync or async) until it returns something truthy, and return that.

    Fails the test with the last value seen after `within` seconds.
    """
    deadline = time.monotonic() + within
    last: object = None
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        last = result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {within}s (last value: {last!r})")
        await asyncio.sleep(interval)
