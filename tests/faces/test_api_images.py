"""Training images through our API: checked before Valossa, then upload_image + add_face_image."""

from __future__ import annotations

import httpx
import pytest
import respx
from sqlalchemy import select

from service.db import SessionMaker
from service.faces.models import FaceImage
from tests.support.emulator import EmulatorHandle
from tests.support.images import face_jpeg, face_png, jpeg, png


async def _face(api: httpx.AsyncClient) -> str:
    gallery = (await api.post("/v1/face-galleries", json={"name": "G"})).json()
    face = await api.post(f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Fay"})
    face_id: str = face.json()["id"]
    return face_id


async def _mirror_images(sessionmaker: SessionMaker) -> list[FaceImage]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(FaceImage)))


async def test_add_list_and_remove_images(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    face_id = await _face(api)

    first = await api.post(
        f"/v1/faces/{face_id}/images", files={"image": ("fay-1.png", face_png(64, 48), "image/png")}
    )
    a_jpeg = ("fay-2.jpg", face_jpeg(), "image/jpeg")
    second = await api.post(f"/v1/faces/{face_id}/images", files={"image": a_jpeg})

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert (first.json()["width"], first.json()["height"]) == (64, 48)
    assert first.json()["content_type"] == "image/png"
    assert second.json()["filename"] == "fay-2.jpg"
    image_ids = [first.json()["id"], second.json()["id"]]
    at_valossa = await emulator.valossa.list_face_images(face_id=face_id)
    assert [i.id for i in at_valossa.face_images] == image_ids
    listed = (await api.get(f"/v1/faces/{face_id}/images")).json()
    assert [i["id"] for i in listed["items"]] == image_ids
    faces = (await api.get("/v1/face-galleries")).json()["items"]
    assert faces[0]["face_count"] == 1

    removed = await api.delete(f"/v1/faces/{face_id}/images/{image_ids[0]}")

    assert removed.status_code == 204, removed.text
    at_valossa = await emulator.valossa.list_face_images(face_id=face_id)
    assert [i.id for i in at_valossa.face_images] == image_ids[1:]
    assert [i.id for i in await _mirror_images(sessionmaker)] == image_ids[1:]


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "detail"),
    [
        ("big.png", png(4097, 10), "image/png", "4097x10 pixels"),
        ("tall.jpg", jpeg(10, 5000), "image/jpeg", "10x5000 pixels"),
        ("anim.gif", b"GIF89a" + b"\x00" * 64, "image/gif", "not a JPG or PNG"),
        ("empty.png", b"", "image/png", "empty"),
        ("lie.jpg", png(10, 10), "image/jpeg", "says JPEG but the bytes are a PNG"),
        ("lie.png", jpeg(10, 10), "application/octet-stream", "says PNG but the bytes are a JPEG"),
        ("broken.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg", "no frame header"),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png", "no IHDR"),
        ("huge.jpg", jpeg(100, 100, padding=60_000) * 140, "image/jpeg", "at most 8 MiB"),
    ],
)
async def test_images_are_checked_before_any_valossa_call(
    api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    sessionmaker: SessionMaker,
    filename: str,
    data: bytes,
    content_type: str,
    detail: str,
) -> None:
    face_id = await _face(api)
    await emulator.configure(error_rate=1.0)  # a call to Valossa would answer 503

    response = await api.post(
        f"/v1/faces/{face_id}/images", files={"image": (filename, data, content_type)}
    )

    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]
    assert await _mirror_images(sessionmaker) == []


async def test_a_body_far_over_the_limit_is_refused_unread(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/faces/any/images", files={"image": ("x.png", b"\x00" * (9 * 1024 * 1024))}
    )
    assert response.status_code == 413


async def test_valossa_refusing_the_face_in_the_image_is_422_with_its_message(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    face_id = await _face(api)
    # The emulator does not look for faces in images: only here do we fake Valossa's answer.
    message = "Exactly one face must be clearly visible in the image (found 2)"
    with respx.mock(assert_all_mocked=False) as mock:
        mock.post(f"{emulator.url}/training/1.0/add_face_image").respond(
            400, json={"errors": [{"message": message}]}
        )
        mock.route(host="127.0.0.1").pass_through()
        response = await api.post(
            f"/v1/faces/{face_id}/images", files={"image": ("two.png", png(32, 32), "image/png")}
        )

    assert response.status_code == 422, response.text
    assert response.json()["valossa_messages"] == [message]
    assert response.json()["detail"] == f"Valossa refused to add the image to the face: {message}"
    assert await _mirror_images(sessionmaker) == []
    assert (await emulator.valossa.list_face_images(face_id=face_id)).face_images == []


async def test_valossa_down_during_an_upload_records_nothing(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    face_id = await _face(api)
    await emulator.configure(error_rate=1.0)

    response = await api.post(
        f"/v1/faces/{face_id}/images", files={"image": ("a.png", face_png(), "image/png")}
    )

    assert response.status_code == 503, response.text
    assert await _mirror_images(sessionmaker) == []
    await emulator.configure(error_rate=0.0)
    assert (await emulator.valossa.list_face_images(face_id=face_id)).face_images == []


async def test_an_image_removed_at_valossa_is_removed_here_too(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    face_id = await _face(api)
    image = await api.post(
        f"/v1/faces/{face_id}/images", files={"image": ("a.png", face_png(), "image/png")}
    )
    await emulator.valossa.remove_face_image(image_id=image.json()["id"])

    response = await api.delete(f"/v1/faces/{face_id}/images/{image.json()['id']}")

    assert response.status_code == 204
    assert await _mirror_images(sessionmaker) == []
