"""What the client puts on the wire: key placement, encodings, null-versus-omitted updates."""

from __future__ import annotations

import json
import struct

import httpx
import pytest
import respx
from valossa_support import API_KEY, BASE_URL

from service.valossa import (
    KEEP,
    AnalysisParameters,
    FaceGalleries,
    GalleryRef,
    Gender,
    MediaUrl,
    NewJobMedia,
    ValossaClient,
)

CORE = f"{BASE_URL}/core/1.0"
TRAINING = f"{BASE_URL}/training/1.0"


def png_header(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", width, height) + b"\0" * 5


@respx.mock
async def test_new_job_sends_the_key_and_options_in_the_json_body(client: ValossaClient) -> None:
    route = respx.post(f"{CORE}/new_job").respond(json={"job_id": "j1"})
    media = NewJobMedia(video=MediaUrl(url="valossaupload://u1"), title="T", rating="PG")
    parameters = AnalysisParameters(face_galleries=FaceGalleries(custom_gallery=GalleryRef(id="g")))
    job = await client.new_job(
        media=media,
        analysis_parameters=parameters,
        callback_url="https://cms.example/cb/t0k3n",
        email_notification=True,
    )
    assert job.job_id == "j1"
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert "api_key" not in str(request.url)
    assert json.loads(request.content) == {
        "api_key": API_KEY,
        "media": {"video": {"url": "valossaupload://u1"}, "title": "T", "rating": "PG"},
        "analysis_parameters": {"face_galleries": {"custom_gallery": {"id": "g"}}},
        "email_notification": {"to_group": "users_with_access_to_api_key_results"},
        "callback": {"url": "https://cms.example/cb/t0k3n"},
    }


@respx.mock
async def test_gets_send_the_key_as_a_query_parameter(client: ValossaClient) -> None:
    route = respx.get(f"{CORE}/list_jobs").respond(json={"jobs": []})
    await client.list_jobs(show_status=True, n_jobs=500)
    assert dict(route.calls.last.request.url.params) == {
        "api_key": API_KEY,
        "show_status": "true",
        "n_jobs": "500",
    }


@respx.mock
async def test_uploads_are_multipart_even_without_a_file(client: ValossaClient) -> None:
    route = respx.post(f"{CORE}/initialize_file_upload").respond(
        json={"upload_id": "u", "file_chunk_size_bytes": 4194304}
    )
    await client.initialize_file_upload(file_size_bytes=12740839)
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="api_key"\r\n\r\n' + API_KEY.encode() in request.content
    assert b'name="file_size_bytes"\r\n\r\n12740839' in request.content


@pytest.mark.parametrize(
    ("kwargs", "updates"),
    [
        ({"name": None}, {"name": None}),
        ({"gender": None}, {"gender": None}),
        ({"name": "Ricky", "gender": KEEP}, {"name": "Ricky"}),
        ({"name": KEEP, "gender": Gender.FEMALE}, {"gender": "female"}),
        ({"name": None, "gender": None}, {"name": None, "gender": None}),
    ],
)
@respx.mock
async def test_update_face_identity_tells_null_from_omitted(
    client: ValossaClient, kwargs: dict[str, object], updates: dict[str, object]
) -> None:
    route = respx.post(f"{TRAINING}/update_face_identity").respond(json={})
    await client.update_face_identity(face_id="f1", **kwargs)  # type: ignore[arg-type]
    body = json.loads(route.calls.last.request.content)
    assert body == {"api_key": API_KEY, "face": {"id": "f1", "updates": updates}}


async def test_update_face_identity_needs_a_change(client: ValossaClient) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await client.update_face_identity(face_id="f1")


@respx.mock
async def test_upload_image_sends_a_typed_file_part(client: ValossaClient) -> None:
    route = respx.post(f"{TRAINING}/upload_image").respond(
        json={"uploaded_file_url": "valossaupload://i1"}
    )
    await client.upload_image(image=png_header(100, 100), filename="ricky_1.png")
    content = route.calls.last.request.content
    assert b'name="image_data"; filename="ricky_1.png"\r\nContent-Type: image/png' in content


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"GIF89a....", "JPG or PNG"),
        (png_header(4097, 10), "4097x10"),
        (b"\xff\xd8" + b"\0" * (8 * 1024 * 1024), "at most"),
    ],
)
async def test_upload_image_refuses_what_valossa_would(
    client: ValossaClient, image: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await client.upload_image(image=image)


async def test_jpeg_dimensions_are_read_from_the_frame_header(client: ValossaClient) -> None:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 5000, 300) + b"\x03" + b"\0" * 9
    with pytest.raises(ValueError, match="300x5000"):
        await client.upload_image(image=b"\xff\xd8" + app0 + sof0)


@pytest.mark.parametrize(
    "kwargs", [{}, {"job_id": "j", "customer_media_id": "c"}]
)  # fmt: skip
async def test_a_job_is_named_by_exactly_one_reference(
    client: ValossaClient, kwargs: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await client.job_status(**kwargs)


@pytest.mark.parametrize("n_jobs", [0, 10001])
async def test_n_jobs_is_bounded_as_documented(client: ValossaClient, n_jobs: int) -> None:
    with pytest.raises(ValueError, match="10000"):
        await client.list_jobs(n_jobs=n_jobs)


def test_video_url_schemes_are_checked() -> None:
    for url in ("http://a/b.mp4", "https://a/b.mp4", "s3://bucket/key", "valossaupload://u"):
        MediaUrl(url=url)
    with pytest.raises(ValueError, match="pattern"):
        MediaUrl(url="ftp://a/b.mp4")


def test_a_transcript_cannot_be_an_upload() -> None:
    for url in ("http://a/t.srt", "https://a/t.srt", "s3://bucket/t.srt"):
        NewJobMedia(video=MediaUrl(url="valossaupload://u"), transcript=MediaUrl(url=url))
    with pytest.raises(ValueError, match="a transcript URL must be http://, https:// or s3://"):
        NewJobMedia(
            video=MediaUrl(url="valossaupload://u"),
            transcript=MediaUrl(url="valossaupload://t"),
        )


async def test_reprs_hide_the_key() -> None:
    async with httpx.AsyncClient() as http:
        client = ValossaClient(http, api_key=API_KEY, base_url=BASE_URL)
        assert API_KEY not in repr(client)
        assert API_KEY not in repr(client._caller.__dict__)
