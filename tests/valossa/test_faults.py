"""Faults on the wire: what is retried, what is raised, and what is passed through."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx
from valossa_support import API_KEY, BASE_URL, SleepRecorder

from service.valossa import (
    MediaUrl,
    NewJobMedia,
    ValossaAuthError,
    ValossaBadRequest,
    ValossaClient,
    ValossaError,
    ValossaNotFound,
    ValossaProtocolError,
    ValossaRateLimited,
    ValossaServerError,
    ValossaTransportError,
)

STATUS_URL = f"{BASE_URL}/core/1.0/job_status"
NEW_JOB_URL = f"{BASE_URL}/core/1.0/new_job"
PROCESSING = {
    "status": "processing",
    "media_transfer_status": "finished",
    "details": None,
    "poll_again_after_seconds": 600,
}


def errors_body(message: str) -> dict[str, list[dict[str, str]]]:
    return {"errors": [{"message": message}]}


@respx.mock
async def test_429_with_retry_after_waits_as_told(
    client: ValossaClient, sleeps: SleepRecorder
) -> None:
    route = respx.get(STATUS_URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json=errors_body("Slow down")),
            httpx.Response(200, json=PROCESSING),
        ]
    )
    status = await client.job_status(job_id="j1")
    assert status.status == "processing"
    assert route.call_count == 2
    assert sleeps.waits == [7.0]


@respx.mock
async def test_429_without_retry_after_backs_off_exponentially(
    client: ValossaClient, sleeps: SleepRecorder
) -> None:
    route = respx.get(STATUS_URL).mock(return_value=httpx.Response(429))
    with pytest.raises(ValossaRateLimited) as caught:
        await client.job_status(job_id="j1")
    assert caught.value.retry_after is None
    assert caught.value.retryable
    assert route.call_count == 4  # max_attempts
    assert sleeps.waits == [0.5, 1.0, 2.0]  # random() pinned at 1.0: the full-jitter ceiling


@pytest.mark.parametrize("status_code", [500, 502, 503])
@respx.mock
async def test_5xx_is_retried_then_succeeds(
    client: ValossaClient, sleeps: SleepRecorder, status_code: int
) -> None:
    route = respx.get(STATUS_URL).mock(
        side_effect=[
            httpx.Response(status_code, text="<html>Bad Gateway</html>"),
            httpx.Response(status_code, json=errors_body("Internal error")),
            httpx.Response(200, json=PROCESSING),
        ]
    )
    assert (await client.job_status(job_id="j1")).status == "processing"
    assert route.call_count == 3
    assert len(sleeps.waits) == 2


@respx.mock
async def test_5xx_exhausting_attempts_raises_server_error(client: ValossaClient) -> None:
    respx.get(STATUS_URL).mock(return_value=httpx.Response(503, json=errors_body("Overloaded")))
    with pytest.raises(ValossaServerError) as caught:
        await client.job_status(job_id="j1")
    assert caught.value.status_code == 503
    assert caught.value.messages == ("Overloaded",)


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ConnectError("[Errno 104] Connection reset by peer"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
@respx.mock
async def test_transport_errors_are_retried(
    client: ValossaClient, sleeps: SleepRecorder, exception: Exception
) -> None:
    route = respx.get(STATUS_URL).mock(
        side_effect=[exception, httpx.Response(200, json=PROCESSING)]
    )
    assert (await client.job_status(job_id="j1")).status == "processing"
    assert route.call_count == 2
    assert len(sleeps.waits) == 1


@respx.mock
async def test_read_timeout_exhausting_attempts_raises_transport_error(
    client: ValossaClient,
) -> None:
    respx.get(STATUS_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(ValossaTransportError, match="ReadTimeout") as caught:
        await client.job_status(job_id="j1")
    assert caught.value.retryable
    assert caught.value.__cause__ is None  # httpx's exception holds the URL, and so the key


@pytest.mark.parametrize(
    ("status_code", "error_type"),
    [(400, ValossaBadRequest), (401, ValossaAuthError), (404, ValossaNotFound)],
)
@respx.mock
async def test_4xx_with_error_body_is_not_retried(
    client: ValossaClient, sleeps: SleepRecorder, status_code: int, error_type: type[ValossaError]
) -> None:
    route = respx.get(STATUS_URL).mock(
        return_value=httpx.Response(status_code, json=errors_body("Job not found"))
    )
    with pytest.raises(error_type) as caught:
        await client.job_status(job_id="j1")
    assert not caught.value.retryable
    assert caught.value.messages == ("Job not found",)  # type: ignore[attr-defined]
    assert "Job not found" in str(caught.value)
    assert route.call_count == 1
    assert sleeps.waits == []


@respx.mock
async def test_error_body_that_is_not_json_is_a_protocol_error(client: ValossaClient) -> None:
    respx.get(STATUS_URL).mock(return_value=httpx.Response(403, text="<h1>Forbidden</h1>"))
    with pytest.raises(ValossaProtocolError, match="Forbidden") as caught:
        await client.job_status(job_id="j1")
    assert caught.value.status_code == 403
    assert not caught.value.retryable


@respx.mock
async def test_malformed_json_in_a_success_is_a_protocol_error(client: ValossaClient) -> None:
    route = respx.get(STATUS_URL).mock(
        return_value=httpx.Response(
            200, text='{"status": "proc', headers={"content-type": "application/json"}
        )
    )
    with pytest.raises(ValossaProtocolError, match="not a valid JobStatus"):
        await client.job_status(job_id="j1")
    assert route.call_count == 1


@respx.mock
async def test_unexpected_shape_is_a_protocol_error(client: ValossaClient) -> None:
    respx.get(STATUS_URL).mock(return_value=httpx.Response(200, json={"jobs": []}))
    with pytest.raises(ValossaProtocolError):
        await client.job_status(job_id="j1")


@respx.mock
async def test_unknown_status_value_and_extra_fields_are_kept(client: ValossaClient) -> None:
    body = {**PROCESSING, "status": "quantum_superposition", "eta_seconds": 12}
    respx.get(STATUS_URL).mock(return_value=httpx.Response(200, json=body))
    status = await client.job_status(job_id="j1")
    assert status.status == "quantum_superposition"
    assert status.known_status is None
    assert not status.is_terminal
    assert status.model_extra == {"eta_seconds": 12}


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, json=errors_body("Overloaded")),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.ReadTimeout("timed out"),
    ],
)
@respx.mock
async def test_new_job_is_never_retried(
    client: ValossaClient, sleeps: SleepRecorder, failure: httpx.Response | Exception
) -> None:
    route = respx.post(NEW_JOB_URL).mock(side_effect=[failure])
    media = NewJobMedia(video=MediaUrl(url="https://example.com/v.mp4"))
    with pytest.raises(ValossaError) as caught:
        await client.new_job(media=media)
    assert caught.value.retryable  # retryable in kind, but new_job leaves that to the caller
    assert route.call_count == 1
    assert sleeps.waits == []


@respx.mock
async def test_total_time_budget_stops_retries(sleeps: SleepRecorder) -> None:
    from service.valossa import RetryPolicy

    policy = RetryPolicy(max_attempts=10, max_total=5.0, sleep=sleeps)
    respx.get(STATUS_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "60"}))
    async with httpx.AsyncClient() as http:
        client = ValossaClient(http, api_key=API_KEY, base_url=BASE_URL, retry=policy)
        with pytest.raises(ValossaRateLimited) as caught:
            await client.job_status(job_id="j1")
    assert caught.value.retry_after == 60.0
    assert sleeps.waits == []  # waiting 60 s would exceed the 5 s budget


@respx.mock
async def test_api_key_never_leaks(client: ValossaClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"Invalid API key {API_KEY}"
    respx.get(STATUS_URL).mock(
        side_effect=[
            httpx.ConnectError(f"cannot reach {STATUS_URL}?api_key={API_KEY}"),
            httpx.Response(500, text=f"crash while serving api_key={API_KEY}"),
            httpx.Response(401, json=errors_body(echo)),
        ]
    )
    with pytest.raises(ValossaAuthError) as caught:
        await client.job_status(job_id="j1")
    error = caught.value
    texts = [str(error), repr(error), repr(client), *error.messages]
    texts += [record.getMessage() for record in caplog.records]
    assert len(caplog.records) >= 3  # httpx's request lines and our retry warnings were captured
    assert any("api_key=" in record.getMessage() for record in caplog.records)
    for text in texts:
        assert API_KEY not in text, text
