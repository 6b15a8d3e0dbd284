"""Every client method against the emulator over real HTTP, each exchange checked by openapi/."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from valossa_support import API_KEY, ContractCheckingTransport

from service.emulator.app import create_emulator_app
from service.emulator.media import write_sample_video
from service.emulator.settings import EmulatorSettings
from service.process.serving import bind_socket, serve_in_background
from service.valossa import (
    KEEP,
    NO_RETRY,
    CustomerMediaInfo,
    Gender,
    KnownJobStatus,
    MediaUrl,
    NewJobMedia,
    ResultType,
    ValossaAuthError,
    ValossaBadRequest,
    ValossaClient,
    ValossaError,
    ValossaNotFound,
    upload_file,
)
from tests.support.images import face_png

CHUNK_SIZE = 8 * 1024


class Emulator:
    """A running emulator: its URL, an admin client, and a checked Valossa client."""

    def __init__(self, url: str, admin: httpx.AsyncClient, transport: ContractCheckingTransport):
        self.url = url
        self.admin = admin
        self.transport = transport

    def client(self, http: httpx.AsyncClient, *, api_key: str = API_KEY) -> ValossaClient:
        return ValossaClient(http, api_key=api_key, base_url=self.url, retry=NO_RETRY)

    async def force(self, job_id: str, status: str) -> None:
        response = await self.admin.post(f"/_emulator/jobs/{job_id}/force", json={"status": status})
        response.raise_for_status()


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "sample.mp4"
    write_sample_video(path, duration_s=2.0, width=160, height=120)
    return path


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    settings = EmulatorSettings(api_keys=SecretStr(API_KEY), chunk_size=CHUNK_SIZE, speed=50.0)
    # TCP_NODELAY: otherwise each keep-alive request stalls ~40 ms (Nagle + delayed ACK).
    sock = bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    async with serve_in_background(create_emulator_app(settings), sock=sock) as server:
        transport = ContractCheckingTransport(httpx.AsyncHTTPTransport())
        async with httpx.AsyncClient(base_url=server.url) as admin:
            yield Emulator(server.url, admin, transport)
    assert transport.violations == []


@pytest.fixture
async def valossa(emulator: Emulator) -> AsyncIterator[ValossaClient]:
    async with httpx.AsyncClient(transport=emulator.transport) as http:
        yield emulator.client(http)


async def wait_for_transfer(valossa: ValossaClient, job_id: str) -> None:
    for _ in range(200):
        status = await valossa.job_status(job_id=job_id)
        if status.media_transfer_status == "finished":
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the emulator never transferred the media")


async def test_upload_new_job_status_results_list_delete(
    emulator: Emulator, valossa: ValossaClient, sample_video: Path
) -> None:
    size = len(sample_video.read_bytes())  # noqa: ASYNC240 - a small local file
    progress: list[int] = []
    url = await upload_file(valossa, sample_video, size=size, on_progress=progress.append)
    assert url.startswith("valossaupload://")
    assert progress[-1] == size
    assert size > CHUNK_SIZE  # so several chunks were really sent

    media = NewJobMedia(
        video=MediaUrl(url=url),
        title="Contract test",
        customer_media_info=CustomerMediaInfo(id="cms-42"),
    )
    job = await valossa.new_job(media=media, callback_url="http://127.0.0.1:9/cb")
    await wait_for_transfer(valossa, job.job_id)
    await emulator.force(job.job_id, "finished")

    status = await valossa.job_status(customer_media_id="cms-42")
    assert status.known_status is KnownJobStatus.FINISHED
    assert status.is_terminal

    listed = await valossa.list_jobs(show_status=True, show_media_info=True, n_jobs=10)
    [entry] = listed.jobs
    assert entry.job_id == job.job_id
    assert entry.customer_media_id == "cms-42"
    assert entry.job_status is not None
    assert entry.job_status.status == "finished"
    assert entry.media_info is not None
    assert entry.media_info.title == "Contract test"

    async with valossa.job_results(job_id=job.job_id) as results:
        assert results.content_type.startswith("application/json")
        body = b"".join([chunk async for chunk in results.aiter_bytes()])
    assert json.loads(body)["job_info"]["job_id"] == job.job_id

    await valossa.delete_job(job_id=job.job_id)
    with pytest.raises(ValossaNotFound):
        await valossa.job_status(job_id=job.job_id)


async def test_every_result_type_streams_or_fails_cleanly(
    emulator: Emulator, valossa: ValossaClient, sample_video: Path
) -> None:
    size = len(sample_video.read_bytes())  # noqa: ASYNC240 - a small local file
    url = await upload_file(valossa, sample_video, size=size)
    job = await valossa.new_job(media=NewJobMedia(video=MediaUrl(url=url)))
    await wait_for_transfer(valossa, job.job_id)
    await emulator.force(job.job_id, "finished")
    available = {
        listed["job_id"]: set(listed["result_types"])
        for listed in (await emulator.admin.get("/_emulator/jobs")).json()["jobs"]
    }[job.job_id]
    assert "core" in available
    for result_type in ResultType:
        if result_type.value not in available:
            with pytest.raises(ValossaError):
                async with valossa.job_results(job_id=job.job_id, type=result_type):
                    pass
            continue
        async with valossa.job_results(job_id=job.job_id, type=result_type) as results:
            body = b"".join([chunk async for chunk in results.aiter_bytes(4096)])
        if result_type.is_text:  # may be empty: the sample's speech is randomly recognised
            assert not results.content_type.startswith("application/json")
            body.decode("utf-8")
        else:
            assert isinstance(json.loads(body), dict)


async def test_cancel_job_and_results_of_unfinished_job(
    emulator: Emulator, valossa: ValossaClient
) -> None:
    media = NewJobMedia(video=MediaUrl(url="https://example.invalid/video.mp4"))
    job = await valossa.new_job(media=media, email_notification=True)
    await emulator.force(job.job_id, "queued")
    with pytest.raises(ValossaError) as caught:
        async with valossa.job_results(job_id=job.job_id):
            pass
    assert not caught.value.retryable
    cancelled = await valossa.cancel_job(job_id=job.job_id)
    assert cancelled.job_status == "canceled"


async def test_documented_errors(emulator: Emulator, valossa: ValossaClient) -> None:
    with pytest.raises(ValossaNotFound):
        await valossa.job_status(job_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValossaNotFound):
        await valossa.finalize_file_upload(upload_id="no-such-upload")
    face = await valossa.create_face_identity(name="Nobody")
    with pytest.raises(ValossaBadRequest):  # the spec allows only valossaupload:// here
        await valossa.add_face_image(face_id=face.face_id, image_url="https://example.com/x.jpg")
    assert [v.split(":")[0] for v in emulator.transport.violations] == ["request add_face_image"]
    emulator.transport.violations.clear()
    async with httpx.AsyncClient(transport=emulator.transport) as http:
        stranger = emulator.client(http, api_key="not-a-key")
        with pytest.raises(ValossaAuthError) as caught:
            await stranger.list_jobs()
    assert "not-a-key" not in str(caught.value)


async def test_training_api_round_trip(emulator: Emulator, valossa: ValossaClient) -> None:
    gallery = await valossa.create_face_gallery(name="Contract faces")
    await valossa.update_face_gallery(gallery_id=gallery.gallery_id, name="Renamed faces")
    galleries = await valossa.list_face_galleries(show_details=True)
    assert gallery.gallery_id in {g.id for g in galleries.face_galleries}

    face = await valossa.create_face_identity(
        gallery_id=gallery.gallery_id, name="Ricky Rickson", gender=Gender.MALE
    )
    uploaded = await valossa.upload_image(image=face_png(), filename="ricky.png")
    image = await valossa.add_face_image(face_id=face.face_id, image_url=uploaded.uploaded_file_url)
    images = await valossa.list_face_images(face_id=face.face_id)
    assert [i.id for i in images.face_images] == [image.image_id]

    await valossa.update_face_identity(face_id=face.face_id, name=None)  # gender: KEEP
    faces = await valossa.list_face_identities(gallery_id=gallery.gallery_id, show_details=True)
    [listed] = faces.face_identities
    assert (listed.name, listed.gender) == (None, "male")
    await valossa.update_face_identity(face_id=face.face_id, name="Ricky R.", gender=KEEP)
    faces = await valossa.list_face_identities(gallery_id=gallery.gallery_id, show_details=True)
    assert (faces.face_identities[0].name, faces.face_identities[0].gender) == ("Ricky R.", "male")

    await valossa.remove_face_image(image_id=image.image_id)
    assert (await valossa.list_face_images(face_id=face.face_id)).face_images == []
    await valossa.remove_face_identity(face_id=face.face_id)
    default_faces = await valossa.list_face_identities()
    assert face.face_id not in {f.id for f in default_faces.face_identities}


async def test_the_checker_catches_a_request_outside_the_contract(emulator: Emulator) -> None:
    async with httpx.AsyncClient(transport=emulator.transport) as http:
        await http.get(
            f"{emulator.url}/core/1.0/list_jobs", params={"api_key": API_KEY, "n_jobs": 0}
        )
    assert any("request list_jobs" in v for v in emulator.transport.violations)
    emulator.transport.violations.clear()
