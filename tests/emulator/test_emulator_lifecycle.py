"""A job's life over real HTTP: real download, probe, clock, results, callback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from emulator_support import API_KEY, Peer, error_message, new_job, wait_for_job

from service.emulator.metadata import RESULT_MEDIA_TYPES
from service.emulator.settings import EmulatorSettings
from tests.support.waiting import eventually


async def test_job_runs_from_download_to_results_and_calls_back(
    client: httpx.AsyncClient, peer: Peer, peer_url: str
) -> None:
    seen: set[tuple[str, str]] = set()
    job_id = await new_job(
        client,
        f"{peer_url}/files/clip.mp4",
        media={"title": "Clip", "customer_media_info": {"id": "cms-1"}},
        callback={"url": f"{peer_url}/callback"},
    )

    async def finished() -> bool:
        answer = await client.get(
            "/core/1.0/job_status", params={"api_key": API_KEY, "job_id": job_id}
        )
        body = answer.json()
        seen.add((body["status"], body["media_transfer_status"]))
        return bool(body["status"] == "finished")

    await eventually(finished)
    assert ("finished", "finished") in seen
    status = (
        await client.get("/core/1.0/job_status", params={"api_key": API_KEY, "job_id": job_id})
    ).json()
    assert status == {
        "job_id": job_id,
        "status": "finished",
        "media_transfer_status": "finished",
        "details": None,
        "poll_again_after_seconds": None,
    }
    core = await client.get("/core/1.0/job_results", params={"api_key": API_KEY, "job_id": job_id})
    assert core.status_code == 200
    assert core.headers["content-type"].startswith("application/json")
    doc = core.json()
    assert doc["job_info"]["job_id"] == job_id
    assert "api_key" not in json.dumps(doc["job_info"]["request"])
    assert round(doc["media_info"]["technical"]["duration_s"]) == 2
    await eventually(lambda: peer.received)
    assert peer.received == [{"job_id": job_id, "status": "finished"}]


async def test_non_video_and_unreachable_urls_end_in_error_with_details(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    cases = {
        f"{peer_url}/files/page.html": "is not a video: its first bytes look like HTML",
        f"{peer_url}/files/missing.mp4": "the server answered HTTP 404",
        "http://127.0.0.1:9/clip.mp4": "Could not download the video from http://127.0.0.1:9/clip.mp4",
    }
    for url, expected in cases.items():
        job_id = await new_job(client, url)
        status = await wait_for_job(client, job_id, {"error", "finished"})
        assert status["status"] == "error"
        assert status["media_transfer_status"] == "error"
        assert expected in status["details"]


async def test_transcript_must_be_srt_and_replaces_speech_analysis(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    video = f"{peer_url}/files/clip.mp4"
    bad = await new_job(client, video, media={"transcript": {"url": f"{peer_url}/files/bad.srt"}})
    status = await wait_for_job(client, bad, {"error", "finished"})
    assert "is not a valid SRT file" in status["details"]
    good = await new_job(client, video, media={"transcript": {"url": f"{peer_url}/files/clip.srt"}})
    await wait_for_job(client, good, {"finished"})
    params = {"api_key": API_KEY, "job_id": good}
    doc = (await client.get("/core/1.0/job_results", params=params)).json()
    types = {d["t"] for d in doc["detections"].values()}
    assert not any(t.startswith("audio.speech") for t in types)
    srt = await client.get("/core/1.0/job_results", params={**params, "type": "speech_to_text_srt"})
    assert srt.status_code == 404
    assert error_message(srt) == "Results of type speech_to_text_srt are not available for this job"


async def test_every_available_result_type_is_served_with_its_content_type(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    job_id = await new_job(client, f"{peer_url}/files/clip.mp4")
    await wait_for_job(client, job_id, {"finished"})
    jobs = (await client.get("/_emulator/jobs")).json()["jobs"]
    available = jobs[0]["result_types"]
    assert "core" in available
    assert "speech_to_text_srt" in available
    for result_type in available:
        answer = await client.get(
            "/core/1.0/job_results",
            params={"api_key": API_KEY, "job_id": job_id, "type": result_type},
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"].split(";")[0] == RESULT_MEDIA_TYPES[result_type]
        again = await client.get(
            "/core/1.0/job_results",
            params={"api_key": API_KEY, "job_id": job_id, "type": result_type},
        )
        assert again.content == answer.content


async def test_customer_media_id_addresses_the_latest_job(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    video = f"{peer_url}/files/clip.mp4"
    first = await new_job(client, video, media={"customer_media_info": {"id": "dup"}})
    second = await new_job(client, video, media={"customer_media_info": {"id": "dup"}})
    params = {"api_key": API_KEY, "customer_media_id": "dup"}
    assert (await client.get("/core/1.0/job_status", params=params)).json()["job_id"] == second
    await client.post("/core/1.0/delete_job", json={"api_key": API_KEY, "customer_media_id": "dup"})
    assert (await client.get("/core/1.0/job_status", params=params)).json()["job_id"] == first
    gone = await client.get("/core/1.0/job_status", params={"api_key": API_KEY, "job_id": second})
    assert gone.status_code == 404


async def test_list_jobs_newest_first_with_media_info_and_limit(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    video = f"{peer_url}/files/clip.mp4"
    ids = [
        await new_job(
            client, video, media={"title": f"T{i}", "customer_media_info": {"id": f"c{i}"}}
        )
        for i in range(3)
    ]
    answer = await client.get(
        "/core/1.0/list_jobs",
        params={"api_key": API_KEY, "show_media_info": "true", "n_jobs": "2"},
    )
    jobs = answer.json()["jobs"]
    assert [j["job_id"] for j in jobs] == ids[::-1][:2]
    newest = jobs[0]
    assert newest["customer_media_id"] == "c2"
    assert newest["media_info"] == {
        "title": "T2",
        "description": None,
        "video": {"url": video},
        "language": "en-US",
    }
    created = datetime.fromisoformat(newest["created_at"])
    assert created.tzinfo is not None
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60
    assert "job_status" not in newest
    plain = await client.get("/core/1.0/list_jobs", params={"api_key": API_KEY})
    assert set(plain.json()["jobs"][0]) == {"job_id", "customer_media_id"}


async def test_cancel_only_while_waiting(client: httpx.AsyncClient, peer_url: str) -> None:
    job_id = await new_job(client, f"{peer_url}/files/clip.mp4")
    body = {"api_key": API_KEY, "job_id": job_id}
    await client.post(f"/_emulator/jobs/{job_id}/force", json={"status": "processing"})
    refused = await client.post("/core/1.0/cancel_job", json=body)
    assert refused.status_code == 400
    assert error_message(refused) == "Job cannot be canceled in its current state: processing"
    await client.post(f"/_emulator/jobs/{job_id}/force", json={"status": "on_hold"})
    assert (await client.post("/core/1.0/cancel_job", json=body)).json() == {
        "job_status": "canceled"
    }
    status = await client.get("/core/1.0/job_status", params=body)
    assert status.json()["status"] == "canceled"
    assert (await client.post("/core/1.0/cancel_job", json=body)).status_code == 400


async def test_delete_removes_job_and_files(
    client: httpx.AsyncClient, peer_url: str, settings: EmulatorSettings
) -> None:
    job_id = await new_job(client, f"{peer_url}/files/clip.mp4")
    await wait_for_job(client, job_id, {"finished"})
    assert settings.data_dir is not None
    directory = settings.data_dir / "jobs" / job_id
    assert (directory / "results" / "core").is_file()
    body = {"api_key": API_KEY, "job_id": job_id}
    assert (await client.post("/core/1.0/delete_job", json=body)).json() == {}
    assert not directory.exists()
    for answer in (
        await client.get("/core/1.0/job_status", params=body),
        await client.get("/core/1.0/job_results", params=body),
        await client.post("/core/1.0/delete_job", json=body),
    ):
        assert answer.status_code == 404
    assert (await client.get("/core/1.0/list_jobs", params={"api_key": API_KEY})).json() == {
        "jobs": []
    }


async def test_jobs_beyond_the_per_key_limit_wait_on_hold(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    await client.patch("/_emulator/config", json={"max_running_jobs_per_key": 1, "speed": 100})
    video = f"{peer_url}/files/clip.mp4"
    ids = [await new_job(client, video) for _ in range(3)]
    await wait_for_job(client, ids[-1], {"on_hold"})
    for job_id in ids:
        await wait_for_job(client, job_id, {"finished"})
