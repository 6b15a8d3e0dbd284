"""source_url end to end: our API, a worker and the emulator, with a local origin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.media_in.source_server import SourceServer, dripping, fixed, gzipped
from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle
from tests.support.factories import insert_analysis
from tests.support.waiting import eventually


@pytest.fixture(autouse=True)
def _local_sources(stack: Stack) -> None:
    """The origin is on loopback: allow private sources, as for local use."""
    stack.settings.allow_private_source_urls = True
    stack.settings.source_min_bytes_per_s = 0.0


async def _analyse(stack: Stack, media_id: str, source_url: str) -> str:
    response = await stack.api.post(
        "/v1/analyses", json={"customer_media_id": media_id, "source_url": source_url}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _get(stack: Stack, analysis_id: str) -> dict[str, Any]:
    response = await stack.api.get(f"/v1/analyses/{analysis_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _moves(stack: Stack, analysis_id: str) -> list[tuple[str | None, str, str]]:
    events = (await stack.api.get(f"/v1/analyses/{analysis_id}/events")).json()["items"]
    return [(e["from_status"], e["to_status"], e["reason"] or "") for e in events]


def _uploaded_file(tmp_path: Path, video_url: str) -> bytes:
    """The file the emulator assembled from our chunks."""
    upload_id = video_url.removeprefix("valossaupload://")
    return (tmp_path / "emulator" / "uploads" / upload_id).read_bytes()


async def test_a_chunked_source_reaches_valossa_byte_identical(
    stack: Stack, origin: SourceServer, clip: bytes, tmp_path: Path
) -> None:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "chunked", f"{origin.url}/chunked.mp4")
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "finished", done
    assert done["progress"] is None
    assert _uploaded_file(tmp_path, done["inputs"]["video_url"]) == clip
    statuses = [to for _, to, _ in await _moves(stack, analysis_id)]
    assert statuses[:5] == ["pending", "downloading", "uploading", "submitting", "submitted"]


async def test_progress_is_shown_while_downloading_and_uploading(
    stack: Stack, emulator: EmulatorHandle, origin: SourceServer, clip: bytes
) -> None:
    origin.routes["/slow.mp4"] = dripping(clip, every_s=0.1, piece=4_000)  # ~4 s
    await emulator.configure(chunk_size=16 * 1024, latency_ms=300)  # ~3 s
    stack.settings.upload_parallelism = 1
    seen: dict[str, list[dict[str, Any]]] = {"downloading": [], "uploading": []}
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "progress", f"{origin.url}/slow.mp4")

        async def ended() -> bool:
            analysis = await _get(stack, analysis_id)
            if analysis["status"] in seen and analysis["progress"]:
                seen[analysis["status"]].append(analysis["progress"])
            return analysis["status"] in ("finished", "failed")

        await eventually(ended, interval=0.1, within=60)
    for phase, samples in seen.items():
        samples = [s for s in samples if s["done_bytes"]]  # the size is known with the data
        assert samples, f"no progress seen while {phase}"
        assert all(s["total_bytes"] == len(clip) for s in samples), samples
        assert all(0 <= s["done_bytes"] <= len(clip) for s in samples), samples
    downloaded = [s["done_bytes"] for s in seen["downloading"]]
    assert any(0 < done < len(clip) for done in downloaded), downloaded
    assert downloaded == sorted(downloaded)


async def test_slow_sources_hold_no_slot_and_other_analyses_proceed(
    stack: Stack, emulator: EmulatorHandle, origin: SourceServer, media_url: str, clip: bytes
) -> None:
    """Three sources dripping a byte every half second, one Valossa slot: the slot stays
    free for a video_url analysis, which finishes while the downloads go on."""
    stack.settings.valossa_max_in_flight = 1
    stack.settings.source_download_concurrency = 3
    origin.routes["/drip.mp4"] = dripping(clip, every_s=0.5)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1", concurrency=2)
        drips = [await _analyse(stack, f"drip-{n}", f"{origin.url}/drip.mp4") for n in range(3)]

        async def all_downloading() -> bool:
            statuses = [(await _get(stack, drip))["status"] for drip in drips]
            return statuses == ["downloading"] * 3

        await eventually(all_downloading)
        metrics = (await stack.api.get("/metrics")).text
        assert "valossa_ingest_in_flight 0" in metrics
        response = await stack.api.post(
            "/v1/analyses",
            json={"customer_media_id": "normal", "video_url": f"{media_url}/clip.mp4"},
        )
        normal = await wait_for_status(stack.api, response.json()["id"], {"finished", "failed"})
        assert normal["status"] == "finished", normal
        for drip in drips:
            assert (await _get(stack, drip))["status"] == "downloading"
        assert all(not seen.gone.is_set() for seen in origin.hits("/drip.mp4"))
    assert (await emulator.stats())["max_unfinished"] == 1


@pytest.mark.parametrize("how", ["cancel", "delete"])
async def test_cancel_and_delete_stop_a_download_within_seconds(
    stack: Stack, origin: SourceServer, clip: bytes, how: str
) -> None:
    origin.routes["/drip.mp4"] = dripping(clip, every_s=0.2, piece=100)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "stopped", f"{origin.url}/drip.mp4")

        async def downloading() -> bool:
            analysis = await _get(stack, analysis_id)
            return analysis["status"] == "downloading" and bool(analysis["progress"])

        await eventually(downloading)
        if how == "cancel":
            answer = await stack.api.post(f"/v1/analyses/{analysis_id}/cancel")
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "canceled"
        else:
            answer = await stack.api.delete("/v1/media/stopped")
            assert answer.status_code == 204, answer.text
        (request,) = origin.hits("/drip.mp4")
        await asyncio.wait_for(request.gone.wait(), timeout=10)
        await asyncio.sleep(0.5)
        after = await stack.api.get(f"/v1/analyses/{analysis_id}")
    if how == "cancel":
        assert after.json()["status"] == "canceled"
    else:
        assert after.status_code == 404


async def test_cancel_stops_an_upload_under_way(
    stack: Stack,
    emulator: EmulatorHandle,
    origin: SourceServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await emulator.configure(chunk_size=16 * 1024, latency_ms=400)
    stack.settings.upload_parallelism = 1
    caplog.set_level(logging.WARNING, logger="service.worker")
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "upload-canceled", f"{origin.url}/clip.mp4")

        async def uploading() -> bool:
            analysis = await _get(stack, analysis_id)
            return analysis["status"] == "uploading" and bool(analysis["progress"])

        await eventually(uploading)
        answer = await stack.api.post(f"/v1/analyses/{analysis_id}/cancel")
        assert answer.json()["status"] == "canceled"

        def stopped() -> bool:
            return f"analysis {analysis_id}: download stopped, its lease was lost" in caplog.text

        await eventually(stopped, within=10)
    assert await emulator.jobs_of("upload-canceled") == []


async def test_a_failing_source_is_given_up_after_the_attempt_limit(
    stack: Stack, origin: SourceServer
) -> None:
    stack.settings.source_max_attempts = 3
    origin.routes["/busy.mp4"] = fixed(b"busy", status=503)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "busy", f"{origin.url}/busy.mp4")
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "failed"
    assert done["error"].startswith("gave up on source_url after 3 download attempts")
    assert f"{origin.url}/busy.mp4: the server answered HTTP 503" in done["error"]
    assert len(origin.hits("/busy.mp4")) == 3


@pytest.mark.parametrize(
    ("route", "handler", "message"),
    [
        ("/gone.mp4", fixed(b"nope", status=404), "the server answered HTTP 404"),
        ("/login", fixed(b"<html><body>Sign in</body></html>" * 10), "is not a video"),
        ("/zipped.mp4", None, "is not a video: it holds gzip-compressed data"),
        ("/empty.mp4", fixed(b""), "empty body"),
    ],
)
async def test_permanent_errors_fail_at_once_naming_the_cms_url(
    stack: Stack,
    origin: SourceServer,
    clip: bytes,
    tmp_path: Path,
    route: str,
    handler: Any,
    message: str,
) -> None:
    origin.routes[route] = handler or gzipped(clip)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "bad", f"{origin.url}{route}?sig=abc")
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "failed"
    assert message in done["error"]
    assert f"{origin.url}{route}" in done["error"]
    assert "sig=abc" not in done["error"]
    assert len(origin.hits(route)) == 1
    assert list((tmp_path / "emulator" / "uploads").iterdir()) == []  # nothing sent to Valossa


async def test_a_video_labelled_gzip_is_uploaded_as_sent(
    stack: Stack, origin: SourceServer, clip: bytes, tmp_path: Path
) -> None:
    origin.routes["/labelled.mp4"] = fixed(clip, Content_Encoding="gzip")
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "labelled", f"{origin.url}/labelled.mp4")
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "finished", done
    assert _uploaded_file(tmp_path, done["inputs"]["video_url"]) == clip
    assert len(origin.hits("/labelled.mp4")) == 1


async def test_valossas_not_a_video_names_the_source_url(
    stack: Stack, origin: SourceServer
) -> None:
    """Bytes we cannot tell from a video go to Valossa, which refuses them; the error names
    the URL the CMS sent, not the valossaupload:// URL we made of it."""
    origin.routes["/noise.bin"] = fixed(b"\x00\x01\x02\x03" + os.urandom(50_000))
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _analyse(stack, "noise", f"{origin.url}/noise.bin")
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "failed"
    assert "is not a video" in done["error"]
    assert f"{origin.url}/noise.bin" in done["error"]
    assert "valossaupload://" not in done["error"]


async def test_an_upload_whose_worker_died_is_downloaded_again(
    stack: Stack, origin: SourceServer, sessionmaker: SessionMaker, clip: bytes, tmp_path: Path
) -> None:
    dead = datetime.now(UTC) - timedelta(seconds=1)
    analysis = await insert_analysis(
        sessionmaker,
        customer_media_id="orphaned-upload",
        status=AnalysisStatus.UPLOADING,
        video_url=None,
        source_url=f"{origin.url}/clip.mp4",
        claimed_by="dead-worker#1",
        claimed_until=dead,
        next_attempt_at=dead,
    )
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "rescuer")
        done = await wait_for_status(stack.api, str(analysis.id), {"finished", "failed"})
    assert done["status"] == "finished", done
    assert _uploaded_file(tmp_path, done["inputs"]["video_url"]) == clip
    moves = await _moves(stack, str(analysis.id))
    assert ("uploading", "downloading") in [(f, t) for f, t, _ in moves]
    assert any("its worker stopped" in reason for _, _, reason in moves)


async def test_a_downloaded_source_waits_for_a_slot_then_goes_back_to_the_backlog(
    stack: Stack, emulator: EmulatorHandle, origin: SourceServer, media_url: str, clip: bytes
) -> None:
    """One slot. The download starts while it is free; meanwhile a video_url analysis takes it
    and Valossa keeps that job queued. The downloaded source waits SOURCE_SLOT_WAIT_S, drops
    its file, goes back to the backlog, and is downloaded again only once the slot is free."""
    stack.settings.valossa_max_in_flight = 1
    stack.settings.source_slot_wait_s = 1.0
    origin.routes["/slow.mp4"] = dripping(clip, every_s=0.1, piece=5_000)  # ~3 s
    await emulator.configure(speed=1.0)  # the holder's job stays queued until forced on
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        waiting = await _analyse(stack, "waiting", f"{origin.url}/slow.mp4")
        await eventually(lambda: origin.hits("/slow.mp4"))
        response = await stack.api.post(
            "/v1/analyses",
            json={"customer_media_id": "holder", "video_url": f"{media_url}/clip.mp4"},
        )
        holder = await wait_for_status(stack.api, response.json()["id"], {"submitted"})
        job_id = holder["valossa"]["job_id"]
        await emulator.force(job_id, "queued")

        async def back_in_backlog() -> bool:
            moves = await _moves(stack, waiting)
            return ("downloading", "pending") in [(f, t) for f, t, _ in moves]

        await eventually(back_in_backlog, within=30)
        await asyncio.sleep(1.0)  # a slot is still taken: no new download starts
        assert (await _get(stack, waiting))["status"] == "pending"
        assert len(origin.hits("/slow.mp4")) == 1
        await emulator.configure(speed=200.0)
        await emulator.force(job_id, "finished")
        done = await wait_for_status(stack.api, waiting, {"finished", "failed"}, within=60)
    assert done["status"] == "finished", done
    assert len(origin.hits("/slow.mp4")) == 2
    reasons = [reason for _, _, reason in await _moves(stack, waiting)]
    assert any("waiting for a free Valossa slot" in reason for reason in reasons), reasons
    assert any("no Valossa slot came free within 1 s" in reason for reason in reasons), reasons
    assert (await emulator.stats())["max_unfinished"] == 1
