"""The two pure retry functions."""

from __future__ import annotations

import pytest

from service.valossa import (
    RetryPolicy,
    ValossaApiError,
    ValossaError,
    ValossaProtocolError,
    ValossaRateLimited,
    ValossaServerError,
    ValossaTransportError,
    delay,
    should_retry,
)
from service.valossa.errors import parse_retry_after

POLICY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=5.0, max_total=60.0)


def transient() -> ValossaError:
    return ValossaServerError("x", function="job_status", status_code=503)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)])
def test_delay_is_full_jitter_under_an_exponential_ceiling(attempt: int, ceiling: float) -> None:
    top = RetryPolicy(base_delay=1.0, max_delay=5.0, random=lambda: 1.0)
    bottom = RetryPolicy(base_delay=1.0, max_delay=5.0, random=lambda: 0.0)
    half = RetryPolicy(base_delay=1.0, max_delay=5.0, random=lambda: 0.5)
    assert delay(attempt, None, top) == ceiling
    assert delay(attempt, None, bottom) == 0.0
    assert delay(attempt, None, half) == ceiling / 2


def test_delay_obeys_retry_after() -> None:
    assert delay(1, 42.0, POLICY) == 42.0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValossaTransportError("x", function="f"), True),
        (ValossaRateLimited("x", function="f", status_code=429), True),
        (transient(), True),
        (ValossaApiError("x", function="f", status_code=400), False),
        (ValossaProtocolError("x", function="f", status_code=200), False),
    ],
)
def test_should_retry_follows_the_error_kind(error: ValossaError, expected: bool) -> None:
    decision = should_retry(error, idempotent=True, attempt=1, elapsed=0, wait=1, policy=POLICY)
    assert decision is expected


def test_should_retry_never_for_non_idempotent_calls() -> None:
    assert not should_retry(
        transient(), idempotent=False, attempt=1, elapsed=0, wait=0, policy=POLICY
    )


def test_should_retry_is_bounded_by_attempts_and_total_time() -> None:
    def retried(attempt: int, elapsed: float, wait: float) -> bool:
        return should_retry(
            transient(), idempotent=True, attempt=attempt, elapsed=elapsed, wait=wait, policy=POLICY
        )

    assert retried(attempt=3, elapsed=0, wait=1)
    assert not retried(attempt=4, elapsed=0, wait=1)  # max_attempts reached
    assert retried(attempt=1, elapsed=50, wait=10)
    assert not retried(attempt=1, elapsed=50, wait=11)  # beyond max_total


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("3", 3.0),
        ("0.5", 0.5),
        ("-2", 0.0),
        ("soon", None),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=60.0) == expected
