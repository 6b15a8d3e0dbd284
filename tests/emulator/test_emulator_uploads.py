"""Chunked upload: limits, exact chunk sizes, any order, resends, completeness, use in new_job."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from emulator_support import API_KEY, error_message, wait_for_job

from service.emulator.settings import EmulatorSettings

CHUNK = 1000


@pytest.fixture
def settings(settings: EmulatorSettings) -> EmulatorSettings:
    """Small chunks so that a test file spans several."""
    return settings.model_copy(update={"chunk_size": CHUNK})


async def initialize(client: httpx.AsyncClient, size: int) -> httpx.Response:
    return await client.post(
        "/core/1.0/initialize_file_upload",
        files={"api_key": (None, API_KEY), "file_size_bytes": (None, str(size))},
    )


async def send(
    client: httpx.AsyncClient, upload_id: str, index: int, data: bytes
) -> httpx.Response:
    return await client.post(
        "/core/1.0/send_file_chunk",
        data={"api_key": API_KEY, "upload_id": upload_id, "chunk_index": str(index)},
        files={"file_data": ("chunk", data)},
    )


async def finalize(client: httpx.AsyncClient, upload_id: str) -> httpx.Response:
    return await client.post(
        "/core/1.0/finalize_file_upload",
        files={"api_key": (None, API_KEY), "upload_id": (None, upload_id)},
    )


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("0", "Invalid value for field: file_size_bytes (must be greater than 0)"),
        ("-5", "Invalid value for field: file_size_bytes (must be greater than 0)"),
        (
            str(7 * 1024**3 + 1),
            "Invalid value for field: file_size_bytes (the maximum file size is 7 GB)",
        ),
        ("ten", "Invalid value for field: file_size_bytes (expected an integer)"),
    ],
)
async def test_initialize_checks_the_size(
    client: httpx.AsyncClient, size: str, message: str
) -> None:
    answer = await client.post(
        "/core/1.0/initialize_file_upload",
        files={"api_key": (None, API_KEY), "file_size_bytes": (None, size)},
    )
    assert answer.status_code == 400
    assert error_message(answer) == message


async def test_upload_must_be_multipart(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/core/1.0/initialize_file_upload", json={"api_key": API_KEY, "file_size_bytes": 5}
    )
    assert answer.status_code == 400
    assert "multipart/form-data" in error_message(answer)


async def test_chunks_in_any_order_with_resends_assemble_the_file(
    client: httpx.AsyncClient, settings: EmulatorSettings
) -> None:
    data = os.urandom(3 * CHUNK + 123)
    init = await initialize(client, len(data))
    assert init.json()["file_chunk_size_bytes"] == CHUNK
    upload_id = init.json()["upload_id"]
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    assert (await send(client, upload_id, 2, b"x" * CHUNK)).status_code == 200
    for index in (3, 0, 2, 1):  # chunk 2 resent with the right bytes overwrites
        answer = await send(client, upload_id, index, pieces[index])
        assert answer.status_code == 200, answer.text
    final = await finalize(client, upload_id)
    assert final.json() == {"uploaded_file_url": f"valossaupload://{upload_id}"}
    assert settings.data_dir is not None
    assert (settings.data_dir / "uploads" / upload_id).read_bytes() == data


async def test_chunk_size_and_index_are_checked(client: httpx.AsyncClient) -> None:
    upload_id = (await initialize(client, 2 * CHUNK + 10)).json()["upload_id"]
    cases = [
        (
            0,
            b"x" * (CHUNK - 1),
            f"Invalid chunk size: chunk 0 must be exactly {CHUNK} bytes, got 999",
        ),
        (2, b"x" * CHUNK, "Invalid chunk size: chunk 2 must be exactly 10 bytes, got 1000"),
        (3, b"x" * 10, "Invalid value for field: chunk_index (must be 0..2 for this upload)"),
        (-1, b"x" * 10, "Invalid value for field: chunk_index (must be 0..2 for this upload)"),
    ]
    for index, data, message in cases:
        answer = await send(client, upload_id, index, data)
        assert answer.status_code == 400
        assert error_message(answer) == message
    unknown = await send(client, "no-such-upload", 0, b"x")
    assert unknown.status_code == 404
    assert error_message(unknown) == "Upload not found"


async def test_finalize_requires_every_chunk(client: httpx.AsyncClient) -> None:
    upload_id = (await initialize(client, 3 * CHUNK)).json()["upload_id"]
    await send(client, upload_id, 1, b"y" * CHUNK)
    answer = await finalize(client, upload_id)
    assert answer.status_code == 400
    assert error_message(answer) == "The upload is incomplete: missing chunks 0, 2"


async def test_uploaded_video_is_analysed(
    client: httpx.AsyncClient, media_dir: Path, settings: EmulatorSettings
) -> None:
    video = (media_dir / "clip.mp4").read_bytes()
    upload_id = (await initialize(client, len(video))).json()["upload_id"]
    for index in range(0, -(-len(video) // CHUNK)):
        await send(client, upload_id, index, video[index * CHUNK : (index + 1) * CHUNK])
    url = (await finalize(client, upload_id)).json()["uploaded_file_url"]
    answer = await client.post(
        "/core/1.0/new_job", json={"api_key": API_KEY, "media": {"video": {"url": url}}}
    )
    job_id = answer.json()["job_id"]
    status = await wait_for_job(client, job_id, {"finished", "error"})
    assert status["status"] == "finished", status
    assert settings.data_dir is not None
    assert (settings.data_dir / "jobs" / job_id / "video").read_bytes() == video


async def test_unfinalized_upload_cannot_be_used(client: httpx.AsyncClient) -> None:
    upload_id = (await initialize(client, 10)).json()["upload_id"]
    answer = await client.post(
        "/core/1.0/new_job",
        json={"api_key": API_KEY, "media": {"video": {"url": f"valossaupload://{upload_id}"}}},
    )
    assert answer.status_code == 400
    assert "no finalized upload" in error_message(answer)


async def test_deleting_its_job_makes_the_uploaded_file_unusable(
    client: httpx.AsyncClient, media_dir: Path, settings: EmulatorSettings
) -> None:
    video = (media_dir / "clip.mp4").read_bytes()
    upload_id = (await initialize(client, len(video))).json()["upload_id"]
    for index in range(0, -(-len(video) // CHUNK)):
        await send(client, upload_id, index, video[index * CHUNK : (index + 1) * CHUNK])
    url = (await finalize(client, upload_id)).json()["uploaded_file_url"]
    body = {"api_key": API_KEY, "media": {"video": {"url": url}}}
    job_id = (await client.post("/core/1.0/new_job", json=body)).json()["job_id"]
    await wait_for_job(client, job_id, {"finished"})
    deleted = await client.post("/core/1.0/delete_job", json={"api_key": API_KEY, "job_id": job_id})
    assert deleted.json() == {}
    again = await client.post("/core/1.0/new_job", json=body)
    assert again.status_code == 400
    assert error_message(again) == (
        "Invalid value for field: media.video.url (no finalized upload with this id)"
    )
    for answer in (
        await send(client, upload_id, 0, video[:CHUNK]),
        await finalize(client, upload_id),
    ):
        assert answer.status_code == 404
        assert error_message(answer) == "Upload not found"
    assert settings.data_dir is not None
    assert not (settings.data_dir / "uploads" / upload_id).exists()
