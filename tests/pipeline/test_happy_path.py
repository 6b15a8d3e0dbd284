"""Each input kind ends with its results stored byte-identical to what Valossa served."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx

from service.valossa import ValossaClient, upload_file
from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EMULATOR_KEY, EmulatorHandle


async def _valossa_result(emulator: EmulatorHandle, job_id: str, result_type: str) -> bytes:
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        response = await client.get(
            "/core/1.0/job_results",
            params={"api_key": EMULATOR_KEY, "job_id": job_id, "type": result_type},
        )
    assert response.status_code == 200, response.text
    return response.content


async def _analyse(stack: Stack, body: dict[str, object]) -> dict[str, object]:
    response = await stack.api.post("/v1/analyses", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"].endswith(response.json()["id"])
    return response.json()  # type: ignore[no-any-return]


async def test_video_url_is_downloaded_by_valossa_and_results_stored(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        created = await _analyse(
            stack,
            {"customer_media_id": "m-1", "video_url": f"{media_url}/clip.mp4", "title": "Clip"},
        )
        assert created["status"] == "pending"
        done = await wait_for_status(stack.api, str(created["id"]), {"finished", "failed"})
    assert done["status"] == "finished", done
    job_id = done["valossa"]["job_id"]

    media = (await stack.api.get("/v1/media/m-1")).json()
    assert media["status"] == "finished"
    assert "core" in media["result_types"]
    assert "speech_to_text_srt" in media["result_types"]

    for result_type in media["result_types"]:
        ours = await stack.api.get(
            "/v1/media/m-1/metadata",
            params={"type": result_type},
            headers={"Accept-Encoding": "identity"},
        )
        assert ours.status_code == 200
        assert ours.content == await _valossa_result(emulator, job_id, result_type)
    zipped = await stack.api.get(
        "/v1/media/m-1/metadata", params={"type": "core"}, headers={"Accept-Encoding": "gzip"}
    )
    assert zipped.headers.get("content-encoding") == "gzip"
    assert zipped.content == await _valossa_result(emulator, job_id, "core")  # httpx decodes

    jobs = await emulator.jobs_of("m-1")
    assert len(jobs) == 1
    request = next(j for j in jobs)
    assert request["job_id"] == job_id


async def test_source_url_is_uploaded_by_us_in_chunks(
    stack: Stack, emulator: EmulatorHandle, media_url: str, media_dir: Path
) -> None:
    await emulator.configure(chunk_size=16 * 1024)
    stack.settings.allow_private_source_urls = True  # the media server is on loopback
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        created = await _analyse(
            stack, {"customer_media_id": "m-up", "source_url": f"{media_url}/clip.mp4"}
        )
        done = await wait_for_status(stack.api, str(created["id"]), {"finished", "failed"})
    assert done["status"] == "finished", done
    events = (await stack.api.get(f"/v1/analyses/{created['id']}/events")).json()
    statuses = [event["to_status"] for event in events["items"]]
    assert statuses[:5] == ["pending", "downloading", "uploading", "submitting", "submitted"]
    assert "valossaupload://" in events["items"][3]["reason"]
    jobs = await emulator.jobs_of("m-up")
    assert len(jobs) == 1


async def test_valossaupload_url_uploaded_beforehand(
    stack: Stack, emulator: EmulatorHandle, media_dir: Path
) -> None:
    clip = media_dir / "clip.mp4"
    async with httpx.AsyncClient() as http:
        client = ValossaClient(http, api_key=EMULATOR_KEY, base_url=emulator.url)
        url = await upload_file(client, clip, size=clip.stat().st_size)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        created = await _analyse(stack, {"customer_media_id": "m-pre", "video_url": url})
        done = await wait_for_status(stack.api, str(created["id"]), {"finished", "failed"})
    assert done["status"] == "finished", done


async def test_media_without_speech_records_absent_types_and_finishes(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    """The default result types: core shows no speech, so no transcript is asked for (one
    job_results call in all)."""
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        created = await _analyse(
            stack, {"customer_media_id": "m-silent", "video_url": f"{media_url}/silent.mp4"}
        )
        done = await wait_for_status(stack.api, str(created["id"]), {"finished", "failed"})
    assert done["status"] == "finished", done
    states = {name: result["state"] for name, result in done["results"].items()}
    assert states["core"] == "stored"
    assert states["speech_to_text_srt"] == "absent"
    assert "shows no speech" in done["results"]["speech_to_text_srt"]["absent_reason"]
    assert (await emulator.stats())["calls"]["job_results"] == 1
    missing = await stack.api.get(
        "/v1/media/m-silent/metadata", params={"type": "speech_to_text_srt"}
    )
    assert missing.status_code == 404


async def test_transcripts_asked_for_by_name_are_fetched_even_without_speech(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        created = await _analyse(
            stack,
            {
                "customer_media_id": "m-silent-2",
                "video_url": f"{media_url}/silent.mp4",
                "result_types": ["core", "speech_to_text_srt"],
            },
        )
        done = await wait_for_status(stack.api, str(created["id"]), {"finished", "failed"})
    assert done["status"] == "finished", done
    assert done["results"]["speech_to_text_srt"]["state"] == "absent"
    assert "shows no speech" not in done["results"]["speech_to_text_srt"]["absent_reason"]
    assert (await emulator.stats())["calls"]["job_results"] == 2


async def test_non_video_fails_with_valossas_details(stack: Stack, media_url: str) -> None:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        created = await _analyse(
            stack, {"customer_media_id": "m-bad", "video_url": f"{media_url}/not-a-video.mp4"}
        )
        done = await wait_for_status(stack.api, str(created["id"]), {"finished", "failed"})
    assert done["status"] == "failed"
    assert done["error"]
    assert done["valossa"]["status"] == "error"
