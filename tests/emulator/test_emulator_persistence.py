"""A restarted emulator resumes from its data dir: jobs, uploads, galleries, callbacks, clock."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from emulator_support import API_KEY, Peer, error_message, new_job, wait_for_job

from service.emulator.app import create_emulator_app
from service.emulator.persistence import STATE_FILE
from service.emulator.settings import EmulatorSettings
from service.process.devmode import DEV_VALOSSA_KEY, dev_emulator_settings
from service.process.serving import serve_in_background
from tests.support.images import face_png
from tests.support.waiting import eventually

KEY = {"api_key": API_KEY}


@contextlib.asynccontextmanager
async def emulator(
    settings: EmulatorSettings, **changes: object
) -> AsyncIterator[httpx.AsyncClient]:
    """One emulator run on the settings' data dir, with a client for it."""
    async with (
        serve_in_background(create_emulator_app(settings.model_copy(update=changes))) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10.0) as http,
    ):
        yield http


async def status_of(http: httpx.AsyncClient, job_id: str) -> str:
    answer = await http.get("/core/1.0/job_status", params={**KEY, "job_id": job_id})
    status: str = answer.json()["status"]
    return status


async def results(http: httpx.AsyncClient, job_id: str) -> dict[str, bytes]:
    """Every result type of a finished job, as served."""
    jobs = (await http.get("/_emulator/jobs")).json()["jobs"]
    [job] = [j for j in jobs if j["job_id"] == job_id]
    out = {}
    for result_type in job["result_types"]:
        params = {**KEY, "job_id": job_id, "type": result_type}
        answer = await http.get("/core/1.0/job_results", params=params)
        assert answer.status_code == 200
        out[result_type] = answer.content
    return out


async def test_jobs_resume_after_a_restart_and_finish_with_the_same_bytes(
    settings: EmulatorSettings, peer: Peer, peer_url: str, tmp_path: Path
) -> None:
    video = f"{peer_url}/files/clip.mp4"
    callback = {"url": f"{peer_url}/callback"}
    seeded = settings.model_copy(update={"seed": 7})
    async with emulator(seeded, speed=10.0) as http:
        done = await new_job(http, video, media={"title": "Done before"})
        await wait_for_job(http, done, {"finished"})
        running = await new_job(http, video, media={"title": "Cut short"}, callback=callback)

        async def processing() -> bool:
            return await status_of(http, running) == "processing"

        await eventually(processing, interval=0.01)
        await http.patch("/_emulator/config", json={"speed": 0.001})  # hold it mid-processing
        before = await results(http, done)
        clock = (await http.get("/_emulator/stats")).json()["clock_s"]
    assert await_nothing_received(peer)

    # Restarted still held (a clip it has decoded before finishes at once otherwise), then let go.
    async with emulator(seeded, speed=0.001) as http:
        assert await status_of(http, running) == "processing"
        assert (await http.get("/_emulator/stats")).json()["clock_s"] >= clock
        assert await results(http, done) == before
        await http.patch("/_emulator/config", json={"speed": seeded.speed})
        await wait_for_job(http, running, {"finished"})
        resumed = await results(http, running)
    await eventually(lambda: peer.received)
    assert peer.received == [{"job_id": running, "status": "finished"}]

    # The same two jobs on a fresh data dir, never interrupted, give the very same bytes.
    async with emulator(seeded, data_dir=tmp_path / "control") as http:
        assert await new_job(http, video, media={"title": "Done before"}) == done
        control = await new_job(http, video, media={"title": "Cut short"}, callback=callback)
        assert control == running
        await wait_for_job(http, control, {"finished"})
        assert await results(http, control) == resumed


def await_nothing_received(peer: Peer) -> bool:
    """No callback was sent for the job held in processing."""
    return peer.received == []


async def test_an_interrupted_download_starts_again(
    settings: EmulatorSettings, peer: Peer, peer_url: str
) -> None:
    peer.file_delay_s = 30.0
    async with emulator(settings) as http:
        job_id = await new_job(http, f"{peer_url}/files/clip.mp4")

        async def downloading() -> bool:
            answer = await http.get("/core/1.0/job_status", params={**KEY, "job_id": job_id})
            return bool(answer.json()["media_transfer_status"] == "downloading")

        await eventually(downloading)
    peer.file_delay_s = 0.0
    async with emulator(settings) as http:
        status = await wait_for_job(http, job_id, {"finished", "error"})
        assert (status["status"], status["media_transfer_status"]) == ("finished", "finished")


async def test_an_owed_callback_retry_is_sent_after_a_restart(
    settings: EmulatorSettings, peer: Peer, peer_url: str
) -> None:
    peer.callback_codes = [500]
    async with emulator(settings, callback_retry_delay_s=60.0) as http:
        job_id = await new_job(
            http, f"{peer_url}/files/clip.mp4", callback={"url": f"{peer_url}/callback"}
        )
        await wait_for_job(http, job_id, {"finished"})
        await eventually(lambda: peer.received)
    assert len(peer.received) == 1
    async with emulator(settings) as http:
        await eventually(lambda: len(peer.received) == 2)
        [record] = (await http.get("/_emulator/callbacks")).json()["callbacks"]
        assert [a["status_code"] for a in record["attempts"]] == [500, 200]
        assert record["delivered"] is True
    assert peer.received == [{"job_id": job_id, "status": "finished"}] * 2


async def test_uploads_and_galleries_survive_a_restart(
    settings: EmulatorSettings, media_dir: Path
) -> None:
    video = (media_dir / "clip.mp4").read_bytes()
    async with emulator(settings, chunk_size=len(video) // 2 + 1) as http:
        init = await http.post(
            "/core/1.0/initialize_file_upload",
            files={"api_key": (None, API_KEY), "file_size_bytes": (None, str(len(video)))},
        )
        upload_id = init.json()["upload_id"]
        first = video[: init.json()["file_chunk_size_bytes"]]
        await http.post(
            "/core/1.0/send_file_chunk",
            data={**KEY, "upload_id": upload_id, "chunk_index": "0"},
            files={"file_data": ("c0", first)},
        )
        gallery_id = (
            await http.post(
                "/training/1.0/create_face_gallery", json={**KEY, "gallery": {"name": "Cast"}}
            )
        ).json()["gallery_id"]
        face_id = (
            await http.post(
                "/training/1.0/create_face_identity",
                json={**KEY, "gallery": {"id": gallery_id}, "face": {"name": "Ada"}},
            )
        ).json()["face_id"]
        image = await http.post(
            "/training/1.0/upload_image", data=KEY, files={"image_data": ("a.png", face_png())}
        )
        added = await http.post(
            "/training/1.0/add_face_image",
            json={
                **KEY,
                "face": {"id": face_id},
                "image": image.json() | {"url": image.json()["uploaded_file_url"]},
            },
        )
        assert added.status_code == 200, added.text

    async with emulator(settings, chunk_size=len(video) // 2 + 1) as http:
        await http.post(
            "/core/1.0/send_file_chunk",
            data={**KEY, "upload_id": upload_id, "chunk_index": "1"},
            files={"file_data": ("c1", video[len(first) :])},
        )
        final = await http.post(
            "/core/1.0/finalize_file_upload",
            files={"api_key": (None, API_KEY), "upload_id": (None, upload_id)},
        )
        url = final.json()["uploaded_file_url"]
        images = await http.get(
            "/training/1.0/list_face_images", params={**KEY, "face_id": face_id}
        )
        assert images.json() == {"face_images": [{"id": added.json()["image_id"]}]}
        job_id = await new_job(
            http,
            url,
            analysis_parameters={"face_galleries": {"custom_gallery": {"id": gallery_id}}},
        )
        await wait_for_job(http, job_id, {"finished"})
        doc = (await http.get("/core/1.0/job_results", params={**KEY, "job_id": job_id})).json()
        names = [
            match["name"]
            for detection in doc["detections"].values()
            for match in detection.get("a", {}).get("similar_to", [])
        ]
        assert names == ["Ada"]


def damage_state(state_file: Path, damage: str) -> None:
    """Make the state file unusable in one of the ways a real one could be."""
    if damage == "garbage":
        state_file.write_bytes(b"this is not a database" * 100)
        for suffix in ("-wal", "-shm"):
            Path(f"{state_file}{suffix}").unlink(missing_ok=True)
        return
    with contextlib.closing(sqlite3.connect(state_file)) as db, db:
        if damage == "old format":
            db.execute(
                "UPDATE records SET data = ? WHERE kind = 'meta' AND key = 'schema'",
                ('{"version": 0}',),
            )
        else:
            db.execute("UPDATE records SET data = ? WHERE kind = 'job'", ('{"job_id": "x"}',))


@pytest.mark.parametrize(
    "damage",
    ["garbage", "old format", "bad record"],
)
async def test_an_unusable_state_is_set_aside_with_a_warning(
    settings: EmulatorSettings, peer_url: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert settings.data_dir is not None
    async with emulator(settings) as http:
        old_job = await new_job(http, f"{peer_url}/files/clip.mp4")
    damage_state(settings.data_dir / STATE_FILE, damage)
    caplog.set_level(logging.WARNING, logger="service.emulator.persistence")
    for _ in range(2):  # the clean start is itself a usable state
        async with emulator(settings) as http:
            gone = await http.get("/core/1.0/job_status", params={**KEY, "job_id": old_job})
            assert gone.status_code == 404
            assert error_message(gone) == "Job not found"
            fresh = await new_job(http, f"{peer_url}/files/clip.mp4")
            await wait_for_job(http, fresh, {"finished"})
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "cannot be used" in warning
    assert "starts empty" in warning
    [aside] = list(settings.data_dir.glob("broken-*"))
    assert (aside / STATE_FILE).is_file()
    assert (aside / "jobs" / old_job).is_dir()


async def test_dev_mode_keeps_the_emulator_state_under_its_root(tmp_path: Path) -> None:
    settings = dev_emulator_settings(tmp_path)
    assert settings.data_dir == tmp_path / "emulator"
    key = {"api_key": DEV_VALOSSA_KEY}
    body = {**key, "media": {"video": {"url": "http://127.0.0.1:9/v.mp4"}}}
    async with emulator(settings) as http:
        job_id = (await http.post("/core/1.0/new_job", json=body)).json()["job_id"]
    async with emulator(settings) as http:
        answer = await http.get("/core/1.0/job_status", params={**key, "job_id": job_id})
        assert answer.status_code == 200
    assert (tmp_path / "emulator" / STATE_FILE).is_file()
