"""Admin endpoints under /_emulator/, the settings' env names and the CLI command."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import typer
from emulator_support import API_KEY, OTHER_KEY, Peer, new_job
from typer.testing import CliRunner

from service.emulator import cli
from service.emulator.auth import fingerprint
from service.emulator.settings import EmulatorSettings
from tests.support.waiting import eventually


async def test_force_finished_builds_results_and_force_error_notifies(
    client: httpx.AsyncClient, peer: Peer, peer_url: str
) -> None:
    params = {"api_key": API_KEY}
    await client.patch("/_emulator/config", json={"speed": 0.001})  # nothing moves on its own
    done = await new_job(client, "http://127.0.0.1:9/never.mp4")
    forced = await client.post(f"/_emulator/jobs/{done}/force", json={"status": "finished"})
    assert forced.json()["status"] == "finished"
    core = await client.get("/core/1.0/job_results", params={**params, "job_id": done})
    assert core.status_code == 200
    assert core.json()["job_info"]["job_id"] == done
    failed = await new_job(
        client,
        "http://127.0.0.1:9/never.mp4",
        callback={"url": f"{peer_url}/callback"},
        email_notification={"to_group": "users_with_access_to_api_key_results"},
    )
    await client.post(
        f"/_emulator/jobs/{failed}/force", json={"status": "error", "details": "boom"}
    )
    status = (await client.get("/core/1.0/job_status", params={**params, "job_id": failed})).json()
    assert (status["status"], status["details"]) == ("error", "boom")
    await eventually(lambda: peer.received)
    assert peer.received == [{"job_id": failed, "status": "error"}]
    emails = (await client.get("/_emulator/emails")).json()["emails"]
    assert [(e["job_id"], e["status"], e["to_group"]) for e in emails] == [
        (failed, "error", "users_with_access_to_api_key_results")
    ]


async def test_jobs_listing_hides_keys_and_stats_track_unfinished(
    client: httpx.AsyncClient,
) -> None:
    ids = [await new_job(client, "http://127.0.0.1:9/v.mp4") for _ in range(3)]
    for job_id in ids:
        await client.post(f"/_emulator/jobs/{job_id}/force", json={"status": "processing"})
    listing = await client.get("/_emulator/jobs")
    assert API_KEY not in listing.text
    assert [j["job_id"] for j in listing.json()["jobs"]] == ids
    assert {j["api_key_fingerprint"] for j in listing.json()["jobs"]} == {fingerprint(API_KEY)}
    await client.post(f"/_emulator/jobs/{ids[0]}/force", json={"status": "error"})
    await client.post(f"/_emulator/jobs/{ids[1]}/force", json={"status": "finished"})
    stats = (await client.get("/_emulator/stats")).json()
    assert stats["jobs_created_by_api_key"] == {fingerprint(API_KEY): 3}
    assert stats["unfinished"] == 1
    assert stats["max_unfinished"] == 3
    assert stats["max_unfinished_by_api_key"] == {fingerprint(API_KEY): 3}
    assert OTHER_KEY not in str(stats)


async def test_reset_forgets_everything_and_restores_config(
    client: httpx.AsyncClient, settings: EmulatorSettings
) -> None:
    job_id = await new_job(client, "http://127.0.0.1:9/v.mp4")
    await client.patch("/_emulator/config", json={"error_rate": 0.0, "speed": 2.0})
    assert (await client.post("/_emulator/reset")).json() == {}
    assert (await client.get("/_emulator/jobs")).json() == {"jobs": []}
    assert (await client.get("/_emulator/config")).json()["speed"] == settings.speed
    assert (await client.get("/_emulator/stats")).json()["max_unfinished"] == 0
    gone = await client.get("/core/1.0/job_status", params={"api_key": API_KEY, "job_id": job_id})
    assert gone.status_code == 404


async def test_force_unknown_job_or_state(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/_emulator/jobs/nope/force", json={"status": "finished"})
    assert unknown.status_code == 404
    job_id = await new_job(client, "http://127.0.0.1:9/v.mp4")
    bad = await client.post(f"/_emulator/jobs/{job_id}/force", json={"status": "exploded"})
    assert bad.status_code == 400


def test_settings_read_the_documented_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "VALOSSA_EMULATOR_API_KEYS": "a, b",
        "VALOSSA_EMULATOR_SPEED": "50",
        "VALOSSA_EMULATOR_CALLBACK_DROP_RATE": "0.1",
        "VALOSSA_EMULATOR_CALLBACK_DELAY_S": "2",
        "VALOSSA_EMULATOR_ERROR_RATE": "0.2",
        "VALOSSA_EMULATOR_THROTTLE_RATE": "0.3",
        "VALOSSA_EMULATOR_LOST_RESPONSE_RATE": "0.4",
        "VALOSSA_EMULATOR_LATENCY_MS": "25",
        "VALOSSA_EMULATOR_JOB_FAILURE_RATE": "0.5",
        "VALOSSA_EMULATOR_SEED": "9",
        "VALOSSA_EMULATOR_CHUNK_SIZE": "1024",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = EmulatorSettings()
    assert settings.accepted_keys() == ["a", "b"]
    assert (settings.speed, settings.callback_drop_rate, settings.callback_delay_s) == (50, 0.1, 2)
    assert (settings.error_rate, settings.throttle_rate, settings.lost_response_rate) == (
        0.2,
        0.3,
        0.4,
    )
    assert (settings.latency_ms, settings.job_failure_rate, settings.seed) == (25, 0.5, 9)
    assert settings.chunk_size == 1024
    assert "a, b" not in repr(settings)


def test_default_speed_finishes_a_short_clip_within_ten_seconds() -> None:
    from service.emulator import lifecycle

    clip_s = 5.0
    emulated = lifecycle.QUEUE_S + lifecycle.PREPARE_S + lifecycle.PROCESS_BASE_S + clip_s
    assert emulated / EmulatorSettings().speed <= 10


def test_cli_values_override_env(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        captured.update(kwargs)

    def fake_create(settings: EmulatorSettings) -> str:
        captured["settings"] = settings
        return "app"

    monkeypatch.setenv("VALOSSA_EMULATOR_ERROR_RATE", "0.9")
    monkeypatch.setenv("VALOSSA_EMULATOR_LATENCY_MS", "5")
    monkeypatch.setattr("service.emulator.cli.uvicorn.run", fake_run)
    monkeypatch.setattr("service.emulator.app.create_emulator_app", fake_create)
    app = typer.Typer()
    app.command("emulator")(cli.emulator_command)
    result = CliRunner().invoke(app, ["--port", "8123", "--error-rate", "0.25", "--seed", "4"])
    assert result.exit_code == 0, result.output
    settings = captured["settings"]
    assert (settings.error_rate, settings.latency_ms, settings.seed) == (0.25, 5, 4)
    assert captured["port"] == 8123
