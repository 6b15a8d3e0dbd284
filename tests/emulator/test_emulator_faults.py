"""Fault knobs: errors, throttling, lost responses, latency, job failures, seed, callbacks."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest
from emulator_support import API_KEY, Peer, error_message, new_job, wait_for_job

from service.emulator.app import create_emulator_app
from service.emulator.settings import EmulatorSettings
from service.process.serving import serve_in_background
from tests.support.waiting import eventually

STATUS = "/core/1.0/list_jobs"


async def configure(client: httpx.AsyncClient, **changes: object) -> None:
    answer = await client.patch("/_emulator/config", json=changes)
    assert answer.status_code == 200, answer.text


async def test_error_rate_answers_5xx_but_never_on_admin(client: httpx.AsyncClient) -> None:
    await configure(client, error_rate=1.0, seed=3)
    codes = set()
    for _ in range(30):
        answer = await client.get(STATUS, params={"api_key": API_KEY})
        codes.add(answer.status_code)
        assert error_message(answer)
    assert codes == {500, 502, 503}
    assert (await client.get("/_emulator/stats")).status_code == 200


async def test_throttle_rate_answers_429_with_retry_after(client: httpx.AsyncClient) -> None:
    await configure(client, throttle_rate=1.0, retry_after_s=7)
    answer = await client.get(STATUS, params={"api_key": API_KEY})
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"
    assert error_message(answer)


async def test_lost_responses_take_effect(client: httpx.AsyncClient, peer_url: str) -> None:
    await configure(client, lost_response_rate=1.0, seed=11)
    outcomes = set()
    for _ in range(8):
        try:
            answer = await client.post(
                "/core/1.0/new_job",
                json={
                    "api_key": API_KEY,
                    "media": {"video": {"url": f"{peer_url}/files/clip.mp4"}},
                },
            )
            assert answer.status_code == 500
            outcomes.add("500")
        except httpx.RemoteProtocolError:
            outcomes.add("dropped")
    assert outcomes == {"500", "dropped"}
    await configure(client, lost_response_rate=0.0)
    listed = await client.get(STATUS, params={"api_key": API_KEY})
    assert len(listed.json()["jobs"]) == 8


async def test_latency_is_added(client: httpx.AsyncClient) -> None:
    await configure(client, latency_ms=150)
    started = time.perf_counter()
    await client.get(STATUS, params={"api_key": API_KEY})
    # A lower bound only (the latency is a sleep); an upper bound would fail on a busy machine.
    assert time.perf_counter() - started >= 0.15


async def test_job_failure_rate_fails_jobs(client: httpx.AsyncClient, peer_url: str) -> None:
    await configure(client, job_failure_rate=1.0)
    job_id = await new_job(client, f"{peer_url}/files/clip.mp4")
    status = await wait_for_job(client, job_id, {"finished", "error"})
    assert status["status"] == "error"
    assert status["media_transfer_status"] == "finished"
    assert status["details"]


async def test_seed_makes_ids_and_faults_repeatable(
    settings: EmulatorSettings, peer_url: str
) -> None:
    runs = []
    assert settings.data_dir is not None
    for run in range(2):
        # Fresh data dirs: on the same one the second emulator would resume the first's state.
        fresh = settings.data_dir / f"run-{run}"
        seeded = settings.model_copy(update={"seed": 42, "error_rate": 0.5, "data_dir": fresh})
        async with (
            serve_in_background(create_emulator_app(seeded)) as server,
            httpx.AsyncClient(base_url=server.url) as http,
        ):
            answers = []
            for _ in range(6):
                answer = await http.post(
                    "/core/1.0/new_job",
                    json={"api_key": API_KEY, "media": {"video": {"url": f"{peer_url}/x.mp4"}}},
                )
                answers.append((answer.status_code, answer.json().get("job_id")))
            runs.append(answers)
    assert runs[0] == runs[1]
    assert {code for code, _ in runs[0]} - {200}


async def test_chunk_size_is_configurable(client: httpx.AsyncClient) -> None:
    await configure(client, chunk_size=1234)
    answer = await client.post(
        "/core/1.0/initialize_file_upload",
        files={"api_key": (None, API_KEY), "file_size_bytes": (None, "5000")},
    )
    assert answer.json()["file_chunk_size_bytes"] == 1234


async def test_callback_is_retried_exactly_once(
    client: httpx.AsyncClient, peer: Peer, peer_url: str
) -> None:
    peer.callback_codes = [500, 500, 500]
    job_id = await new_job(
        client, f"{peer_url}/files/clip.mp4", callback={"url": f"{peer_url}/callback"}
    )
    await wait_for_job(client, job_id, {"finished"})
    callbacks = await eventually(lambda: _attempts(client, 2))
    [record] = callbacks
    assert [a["status_code"] for a in record["attempts"]] == [500, 500]
    assert record["delivered"] is False
    assert record["body"] == {"job_id": job_id, "status": "finished"}
    assert len(peer.received) == 2


async def test_callback_retry_succeeds_after_a_timeout(
    client: httpx.AsyncClient, peer: Peer, peer_url: str
) -> None:
    await configure(client, callback_timeout_s=0.2)
    peer.callback_sleep_s = 0.5
    job_id = await new_job(
        client, f"{peer_url}/files/clip.mp4", callback={"url": f"{peer_url}/callback"}
    )
    await wait_for_job(client, job_id, {"finished"})
    [record] = await eventually(lambda: _attempts(client, 2))
    assert [a["error"] for a in record["attempts"]] == ["ReadTimeout", None]
    assert record["attempts"][1]["status_code"] == 200
    assert record["delivered"] is True


async def _attempts(client: httpx.AsyncClient, n: int) -> list[dict[str, object]] | None:
    callbacks = (await client.get("/_emulator/callbacks")).json()["callbacks"]
    if callbacks and len(callbacks[0]["attempts"]) >= n:
        return list(callbacks)
    return None


async def test_callback_drop_and_delay(
    client: httpx.AsyncClient, peer: Peer, peer_url: str
) -> None:
    await configure(client, callback_drop_rate=1.0)
    dropped = await new_job(
        client, f"{peer_url}/files/clip.mp4", callback={"url": f"{peer_url}/callback"}
    )
    await wait_for_job(client, dropped, {"finished"})
    await configure(client, callback_drop_rate=0.0, callback_delay_s=0.3)
    delayed = await new_job(
        client, f"{peer_url}/files/clip.mp4", callback={"url": f"{peer_url}/callback"}
    )
    await wait_for_job(client, delayed, {"finished"})
    await eventually(lambda: peer.received)
    assert peer.received == [{"job_id": delayed, "status": "finished"}]
    callbacks = (await client.get("/_emulator/callbacks")).json()["callbacks"]
    assert [(c["job_id"], c["dropped"]) for c in callbacks] == [(dropped, True), (delayed, False)]
    owed = datetime.fromisoformat(callbacks[1]["created_at"])
    sent = datetime.fromisoformat(callbacks[1]["attempts"][0]["at"])
    assert (sent - owed).total_seconds() >= 0.3


@pytest.mark.parametrize("field", ["error_rate", "speed", "chunk_size"])
async def test_invalid_config_is_refused(client: httpx.AsyncClient, field: str) -> None:
    answer = await client.patch("/_emulator/config", json={field: -1})
    assert answer.status_code == 400
    assert error_message(answer).startswith(f"Invalid value for field: {field}")
