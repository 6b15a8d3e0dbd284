"""Knobs for what Valossa leaves undocumented: list order, extra fields, cancel answers, on_hold."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import typer
from emulator_support import API_KEY, error_message, new_job, wait_for_job
from typer.testing import CliRunner

from service.emulator import cli
from service.emulator.settings import EmulatorSettings

KEY = {"api_key": API_KEY}
NEVER = "http://127.0.0.1:9/never-downloaded.mp4"
DOCUMENTED_STATUS = {"status", "media_transfer_status", "details", "poll_again_after_seconds"}


async def configure(client: httpx.AsyncClient, **knobs: Any) -> None:
    answer = await client.patch("/_emulator/config", json=knobs)
    assert answer.status_code == 200, answer.text


async def listed(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    answer = await client.get("/core/1.0/list_jobs", params={**KEY, **params})
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, Any]] = answer.json()["jobs"]
    return jobs


async def make_jobs(client: httpx.AsyncClient, n: int) -> list[str]:
    """n jobs that never leave queued (the clock is almost stopped)."""
    await configure(client, speed=0.001)
    return [
        await new_job(
            client, NEVER, media={"title": f"T{i}", "customer_media_info": {"id": f"c{i}"}}
        )
        for i in range(n)
    ]


async def test_list_order_and_n_jobs(client: httpx.AsyncClient) -> None:
    ids = await make_jobs(client, 5)
    assert [j["job_id"] for j in await listed(client)] == ids[::-1]
    assert [j["job_id"] for j in await listed(client, n_jobs="2")] == ids[::-1][:2]
    await configure(client, list_order="oldest")
    assert [j["job_id"] for j in await listed(client)] == ids
    # Oldest first, n_jobs keeps the oldest: the newest job is not in a short list.
    assert [j["job_id"] for j in await listed(client, n_jobs="2")] == ids[:2]
    assert len(await listed(client, n_jobs="10000")) == 5


@pytest.mark.parametrize(
    ("n_jobs", "message"),
    [
        ("0", "Invalid value for parameter: n_jobs (must be 1..10000)"),
        ("10001", "Invalid value for parameter: n_jobs (must be 1..10000)"),
        ("many", "Invalid value for parameter: n_jobs (expected an integer)"),
    ],
)
async def test_n_jobs_beyond_the_documented_range_is_refused(
    client: httpx.AsyncClient, n_jobs: str, message: str
) -> None:
    answer = await client.get("/core/1.0/list_jobs", params={**KEY, "n_jobs": n_jobs})
    assert answer.status_code == 400
    assert error_message(answer) == message


async def test_without_undocumented_fields_only_documented_ones_are_shown(
    client: httpx.AsyncClient,
) -> None:
    [job_id] = await make_jobs(client, 1)
    [full] = await listed(client, show_status="true", show_media_info="true")
    assert set(full) == {"job_id", "customer_media_id", "job_status", "media_info", "created_at"}
    assert set(full["media_info"]) == {"title", "description", "video", "language"}
    await configure(client, undocumented_fields=False)
    [job] = await listed(client, show_status="true", show_media_info="true")
    assert job == {
        "job_id": job_id,
        "customer_media_id": "c0",
        "job_status": {
            "status": "queued",
            "media_transfer_status": "queued",
            "details": None,
            "poll_again_after_seconds": job["job_status"]["poll_again_after_seconds"],
        },
        "media_info": {"title": "T0"},
    }
    status = await client.get("/core/1.0/job_status", params={**KEY, "job_id": job_id})
    assert set(status.json()) == DOCUMENTED_STATUS
    assert set((await listed(client))[0]) == {"job_id", "customer_media_id"}


async def test_cancel_answers_the_configured_status(client: httpx.AsyncClient) -> None:
    [job_id] = await make_jobs(client, 1)
    await configure(client, cancel_status="cancelled")
    body = {**KEY, "job_id": job_id}
    answer = await client.post("/core/1.0/cancel_job", json=body)
    assert answer.json() == {"job_status": "cancelled"}
    status = await client.get("/core/1.0/job_status", params=body)
    assert (status.json()["status"], status.json()["poll_again_after_seconds"]) == (
        "cancelled",
        None,
    )
    [job] = await listed(client, show_status="true")
    assert job["job_status"]["status"] == "cancelled"
    again = await client.post("/core/1.0/cancel_job", json=body)
    assert (again.status_code, error_message(again)) == (
        400,
        "Job cannot be canceled in its current state: cancelled",
    )


async def test_a_canceled_job_may_settle_in_another_status(client: httpx.AsyncClient) -> None:
    [job_id] = await make_jobs(client, 1)
    await configure(client, cancel_status="cancelling", cancel_final_status="error")
    body = {**KEY, "job_id": job_id}
    assert (await client.post("/core/1.0/cancel_job", json=body)).json() == {
        "job_status": "cancelling"
    }
    first = (await client.get("/core/1.0/job_status", params=body)).json()
    assert first["status"] == "cancelling"
    assert first["poll_again_after_seconds"] >= 1
    await configure(client, speed=1000.0)
    settled = await wait_for_job(client, job_id, {"error"})
    assert (settled["details"], settled["poll_again_after_seconds"]) == (
        "The job was canceled.",
        None,
    )


async def test_a_refused_cancel_uses_the_configured_code(client: httpx.AsyncClient) -> None:
    [job_id] = await make_jobs(client, 1)
    await client.post(f"/_emulator/jobs/{job_id}/force", json={"status": "processing"})
    await configure(client, cancel_refusal_code=409)
    answer = await client.post("/core/1.0/cancel_job", json={**KEY, "job_id": job_id})
    assert answer.status_code == 409
    assert error_message(answer) == "Job cannot be canceled in its current state: processing"


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"list_order": "random"}, "list_order"),
        ({"cancel_refusal_code": 200}, "cancel_refusal_code"),
        ({"cancel_status": ""}, "cancel_status"),
        ({"undocumented_fields": "maybe"}, "undocumented_fields"),
    ],
)
async def test_bad_knob_values_are_refused(
    client: httpx.AsyncClient, knobs: dict[str, Any], field: str
) -> None:
    answer = await client.patch("/_emulator/config", json=knobs)
    assert answer.status_code == 400
    assert error_message(answer).startswith(f"Invalid value for field: {field}")


async def test_on_hold_appears_with_the_default_settings(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    config = (await client.get("/_emulator/config")).json()
    assert config["max_running_jobs_per_key"] == 2
    video = f"{peer_url}/files/clip.mp4"
    running = [await new_job(client, video) for _ in range(2)]
    for job_id in running:  # two jobs analysing, held there
        await client.post(f"/_emulator/jobs/{job_id}/force", json={"status": "processing"})
    waiting = await new_job(client, video)
    await wait_for_job(client, waiting, {"on_hold"})
    for job_id in running:
        await client.post(
            f"/_emulator/jobs/{job_id}/force", json={"status": "processing", "pin": False}
        )
    for job_id in [*running, waiting]:
        await wait_for_job(client, job_id, {"finished"})


def test_knobs_have_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "VALOSSA_EMULATOR_LIST_ORDER": "oldest",
        "VALOSSA_EMULATOR_UNDOCUMENTED_FIELDS": "false",
        "VALOSSA_EMULATOR_CANCEL_STATUS": "aborted",
        "VALOSSA_EMULATOR_CANCEL_FINAL_STATUS": "error",
        "VALOSSA_EMULATOR_CANCEL_REFUSAL_CODE": "409",
        "VALOSSA_EMULATOR_MAX_RUNNING_JOBS_PER_KEY": "0",
        "VALOSSA_EMULATOR_KEYS_WITHOUT_FACES": "plain",
        "VALOSSA_EMULATOR_EXTRA_LANGUAGES": "et-EE",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = EmulatorSettings()
    assert (settings.list_order, settings.undocumented_fields) == ("oldest", False)
    assert (settings.cancel_status, settings.cancel_final_status) == ("aborted", "error")
    assert (settings.cancel_refusal_code, settings.max_running_jobs_per_key) == (409, 0)
    assert settings.accepted_keys() == ["dev-valossa-key", "plain"]
    assert settings.extra_languages == "et-EE"
    monkeypatch.undo()
    defaults = EmulatorSettings()
    assert (defaults.list_order, defaults.undocumented_fields) == ("newest", True)
    assert (defaults.cancel_status, defaults.cancel_final_status) == ("canceled", None)
    assert (defaults.cancel_refusal_code, defaults.max_running_jobs_per_key) == (400, 2)


def test_knobs_have_cli_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}
    monkeypatch.setattr("service.emulator.cli.uvicorn.run", lambda app, **kwargs: None)
    monkeypatch.setattr(
        "service.emulator.app.create_emulator_app", lambda settings: captured.update(s=settings)
    )
    app = typer.Typer()
    app.command("emulator")(cli.emulator_command)
    flags = [
        "--list-order", "oldest", "--no-undocumented-fields", "--cancel-status", "aborted",
        "--cancel-final-status", "error", "--cancel-refusal-code", "404",
        "--max-running-jobs-per-key", "5",
    ]  # fmt: skip
    result = CliRunner().invoke(app, flags)
    assert result.exit_code == 0, result.output
    settings = captured["s"]
    assert (settings.list_order, settings.undocumented_fields) == ("oldest", False)
    assert (settings.cancel_status, settings.cancel_final_status) == ("aborted", "error")
    assert (settings.cancel_refusal_code, settings.max_running_jobs_per_key) == (404, 5)
    bad = CliRunner().invoke(app, ["--list-order", "sideways"])
    assert bad.exit_code != 0
