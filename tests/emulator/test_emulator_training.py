"""Training API semantics: galleries, update rules, image limits, identities in job results."""

from __future__ import annotations

import struct
from typing import Any

import httpx
import pytest
from emulator_support import API_KEY, OTHER_KEY, error_message, new_job, png, wait_for_job
from pydantic import SecretStr

from service.emulator.app import create_emulator_app
from service.emulator.images import read_image_header
from service.emulator.settings import EmulatorSettings
from service.process.serving import serve_in_background
from tests.support.images import SKIN, face_png, plain_png, stripes_png

KEY = {"api_key": API_KEY}


def jpeg(width: int, height: int, *, exif_bytes: int = 20) -> bytes:
    """A JPEG header: SOI, an APP1 segment, then SOF0 with the size (no scan data needed)."""
    app1 = b"\xff\xe1" + struct.pack(">H", exif_bytes + 2) + b"\x00" * exif_bytes
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app1 + sof + b"\xff\xda"


async def post(client: httpx.AsyncClient, function: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/training/1.0/{function}", json={**KEY, **body})


async def upload(client: httpx.AsyncClient, data: bytes, name: str = "face.jpg") -> httpx.Response:
    return await client.post(
        "/training/1.0/upload_image", data=KEY, files={"image_data": (name, data)}
    )


def test_image_headers_are_read() -> None:
    assert read_image_header(png(4096, 10)) == read_image_header(png(4096, 10))
    assert (read_image_header(png(33, 44)).width, read_image_header(png(33, 44)).height) == (33, 44)
    info = read_image_header(jpeg(1920, 1080, exif_bytes=3000))
    assert (info.format, info.width, info.height) == ("jpeg", 1920, 1080)
    with pytest.raises(ValueError, match="JPG or PNG"):
        read_image_header(b"GIF89a....")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (png(4097, 100), "Invalid image: 4097x100 pixels exceeds the maximum of 4096x4096"),
        (jpeg(100, 5000), "Invalid image: 100x5000 pixels exceeds the maximum of 4096x4096"),
        (b"GIF89a" + b"\x00" * 100, "Invalid image: the image must be in the JPG or PNG format"),
        (
            png(10, 10) + b"\x00" * (8 * 1024 * 1024),
            "Invalid image: the maximum image file size is 8MB",
        ),
    ],
)
async def test_upload_image_limits(client: httpx.AsyncClient, data: bytes, message: str) -> None:
    answer = await upload(client, data)
    assert answer.status_code == 400
    assert error_message(answer) == message


async def test_images_at_the_limits_are_accepted(client: httpx.AsyncClient) -> None:
    for data in (png(4096, 4096), jpeg(4096, 4096)):
        answer = await upload(client, data)
        assert answer.status_code == 200, answer.text


async def test_default_gallery_is_implicit_and_not_renamable(client: httpx.AsyncClient) -> None:
    listed = await client.get("/training/1.0/list_face_galleries", params=KEY)
    assert listed.json() == {"face_galleries": []}
    await post(client, "create_face_identity", {"face": {"name": "A"}})
    details = await client.get(
        "/training/1.0/list_face_galleries", params={**KEY, "show_details": "true"}
    )
    [default] = details.json()["face_galleries"]
    assert default["is_default"] is True
    rename = await post(
        client, "update_face_gallery", {"gallery": {"id": default["id"], "updates": {"name": "X"}}}
    )
    assert rename.status_code == 400
    assert error_message(rename) == "The default face gallery cannot be modified"


async def test_gallery_rules(client: httpx.AsyncClient) -> None:
    too_long = await post(client, "create_face_gallery", {"gallery": {"name": "x" * 1025}})
    assert too_long.status_code == 400
    assert error_message(too_long).startswith("Invalid value for field: gallery.name")
    gallery_id = (await post(client, "create_face_gallery", {"gallery": {"name": "G"}})).json()[
        "gallery_id"
    ]
    bad_field = await post(
        client,
        "update_face_gallery",
        {"gallery": {"id": gallery_id, "updates": {"name": "X", "color": "red"}}},
    )
    assert bad_field.status_code == 400
    assert error_message(bad_field).startswith("Invalid value for field: gallery.updates.color")
    rename = await post(
        client, "update_face_gallery", {"gallery": {"id": gallery_id, "updates": {"name": "H"}}}
    )
    assert rename.status_code == 200
    details = await client.get(
        "/training/1.0/list_face_galleries", params={**KEY, "show_details": "true"}
    )
    assert details.json()["face_galleries"] == [
        {"id": gallery_id, "name": "H", "is_default": False}
    ]
    others = await client.get("/training/1.0/list_face_galleries", params={"api_key": OTHER_KEY})
    assert others.json() == {"face_galleries": []}


async def test_update_face_identity_null_unsets_and_omitted_keeps(
    client: httpx.AsyncClient,
) -> None:
    face_id = (
        await post(client, "create_face_identity", {"face": {"name": "Ricky", "gender": "male"}})
    ).json()["face_id"]

    async def details() -> dict[str, Any]:
        answer = await client.get(
            "/training/1.0/list_face_identities", params={**KEY, "show_details": "true"}
        )
        [face] = answer.json()["face_identities"]
        return dict(face)

    await post(
        client, "update_face_identity", {"face": {"id": face_id, "updates": {"name": "Rick"}}}
    )
    assert await details() == {"id": face_id, "name": "Rick", "gender": "male"}
    await post(
        client, "update_face_identity", {"face": {"id": face_id, "updates": {"gender": None}}}
    )
    assert await details() == {"id": face_id, "name": "Rick", "gender": None}
    bad = await post(
        client, "update_face_identity", {"face": {"id": face_id, "updates": {"gender": "other"}}}
    )
    assert bad.status_code == 400
    assert error_message(bad).startswith("Invalid value for field: face.updates.gender")


async def test_add_face_image_needs_an_uploaded_image(client: httpx.AsyncClient) -> None:
    face_id = (await post(client, "create_face_identity", {})).json()["face_id"]
    for url in ("https://example.com/face.jpg", "valossaupload://unknown"):
        answer = await post(
            client, "add_face_image", {"face": {"id": face_id}, "image": {"url": url}}
        )
        assert answer.status_code == 400
        assert error_message(answer).startswith("Invalid value for field: image.url")
    missing = await post(client, "remove_face_identity", {"face": {"id": "nope"}})
    assert missing.status_code == 404
    assert error_message(missing) == "Face identity not found"
    no_image = await post(client, "remove_face_image", {"image": {"id": "nope"}})
    assert no_image.status_code == 404


async def test_trained_identities_appear_as_similar_to(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    gallery_id = (await post(client, "create_face_gallery", {"gallery": {"name": "Cast"}})).json()[
        "gallery_id"
    ]
    face_id = (
        await post(
            client,
            "create_face_identity",
            {"gallery": {"id": gallery_id}, "face": {"name": "Jack Jackson", "gender": "male"}},
        )
    ).json()["face_id"]
    image_url = (await upload(client, face_png(), "jack.png")).json()["uploaded_file_url"]
    added = await post(
        client, "add_face_image", {"face": {"id": face_id}, "image": {"url": image_url}}
    )
    assert added.status_code == 200, added.text
    job_id = await new_job(
        client,
        f"{peer_url}/files/clip.mp4",
        analysis_parameters={"face_galleries": {"custom_gallery": {"id": gallery_id}}},
    )
    await wait_for_job(client, job_id, {"finished"})
    doc = (await client.get("/core/1.0/job_results", params={**KEY, "job_id": job_id})).json()
    matches = [
        match
        for detection in doc["detections"].values()
        if detection["t"] == "human.face"
        for match in detection.get("a", {}).get("similar_to", [])
    ]
    assert any(
        m["gallery"]["id"] == gallery_id
        and m["gallery_face"] == {"id": face_id, "name": "Jack Jackson"}
        for m in matches
    )


async def add_image(client: httpx.AsyncClient, face_id: str, data: bytes) -> httpx.Response:
    """Upload an image and add it to a face identity."""
    url = (await upload(client, data, "image.png")).json()["uploaded_file_url"]
    return await post(client, "add_face_image", {"face": {"id": face_id}, "image": {"url": url}})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (plain_png((255, 255, 255)), "the image is blank or of one uniform colour"),
        (plain_png(SKIN), "the image is blank or of one uniform colour"),
        (stripes_png(), "no skin-toned region was found"),
        (face_png(features=False), "the skin-toned region has no facial features (eyes, mouth)"),
        (png(64, 64), "the image could not be decoded"),
    ],
    ids=["white", "one skin colour", "no skin", "no eyes or mouth", "header only"],
)
async def test_add_face_image_refuses_images_without_a_face(
    client: httpx.AsyncClient, data: bytes, reason: str
) -> None:
    face_id = (await post(client, "create_face_identity", {})).json()["face_id"]
    answer = await add_image(client, face_id, data)
    assert answer.status_code == 400
    assert error_message(answer) == (
        f"No face found in the image: {reason}. Exactly one clearly visible face is required"
    )
    images = await client.get("/training/1.0/list_face_images", params={**KEY, "face_id": face_id})
    assert images.json() == {"face_images": []}


async def test_add_face_image_accepts_faces_of_any_skin_tone(client: httpx.AsyncClient) -> None:
    face_id = (await post(client, "create_face_identity", {})).json()["face_id"]
    for skin in (SKIN, (120, 80, 60), (250, 215, 190)):
        answer = await add_image(client, face_id, face_png(skin=skin))
        assert answer.status_code == 200, answer.text
    images = await client.get("/training/1.0/list_face_images", params={**KEY, "face_id": face_id})
    assert len(images.json()["face_images"]) == 3


async def test_keys_without_faces_are_refused_by_the_training_api(
    settings: EmulatorSettings, peer_url: str
) -> None:
    no_faces = settings.model_copy(update={"keys_without_faces": SecretStr("plain-key")})
    async with (
        serve_in_background(create_emulator_app(no_faces)) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        plain = {"api_key": "plain-key"}
        for answer in (
            await http.get("/training/1.0/list_face_galleries", params=plain),
            await http.post("/training/1.0/create_face_identity", json={**plain, "face": {}}),
            await http.post(
                "/training/1.0/upload_image",
                data=plain,
                files={"image_data": ("f.png", face_png())},
            ),
        ):
            assert answer.status_code == 401
            assert error_message(answer) == (
                "This API key is not bound to a faces-enabled Valossa subscription; "
                "the Training API works only with such keys"
            )
        # The Core API still works with that key, and faces-enabled keys still train.
        job = await http.post(
            "/core/1.0/new_job",
            json={**plain, "media": {"video": {"url": f"{peer_url}/files/clip.mp4"}}},
        )
        assert job.status_code == 200
        trained = await http.get("/training/1.0/list_face_galleries", params=KEY)
        assert trained.status_code == 200
