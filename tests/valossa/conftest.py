"""Fixtures for the Valossa client tests: a retry policy that records its waits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from valossa_support import API_KEY, BASE_URL, SleepRecorder

from service.valossa import RetryPolicy, ValossaClient


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def retry_policy(sleeps: SleepRecorder) -> RetryPolicy:
    """Four attempts, no real waiting, jitter fixed at the top of its range."""
    return RetryPolicy(
        max_attempts=4, base_delay=0.5, max_delay=4.0, sleep=sleeps, random=lambda: 1.0
    )


@pytest.fixture
async def client(retry_policy: RetryPolicy) -> AsyncIterator[ValossaClient]:
    """A client on a plain AsyncClient (routes are mocked with respx in each test)."""
    async with httpx.AsyncClient() as http:
        yield ValossaClient(http, api_key=API_KEY, base_url=BASE_URL, retry=retry_policy)
