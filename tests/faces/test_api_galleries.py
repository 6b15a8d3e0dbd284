"""Face galleries and faces through our API, with the emulator as Valossa."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy import select

from service.db import SessionMaker
from service.faces.models import Face, FaceGallery
from tests.support.emulator import EmulatorHandle

TEST_TOKEN_FINGERPRINT = "token-" + hashlib.sha256(b"test-token").hexdigest()[:12]


async def _mirror_galleries(sessionmaker: SessionMaker) -> dict[str, FaceGallery]:
    async with sessionmaker() as session:
        return {g.id: g for g in await session.scalars(select(FaceGallery))}


async def _mirror_faces(sessionmaker: SessionMaker) -> dict[str, Face]:
    async with sessionmaker() as session:
        return {f.id: f for f in await session.scalars(select(Face))}


async def _valossa_galleries(emulator: EmulatorHandle) -> dict[str, str | None]:
    listed = await emulator.valossa.list_face_galleries(show_details=True)
    return {g.id: g.name for g in listed.face_galleries}


async def test_create_list_and_rename_a_gallery(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    created = await api.post("/v1/face-galleries", json={"name": "Cast of season 1"})

    assert created.status_code == 201, created.text
    gallery = created.json()
    assert gallery["name"] == "Cast of season 1"
    assert gallery["is_default"] is False
    assert gallery["face_count"] == 0
    assert gallery["created_by"] == TEST_TOKEN_FINGERPRINT
    assert await _valossa_galleries(emulator) == {gallery["id"]: "Cast of season 1"}
    row = (await _mirror_galleries(sessionmaker))[gallery["id"]]
    assert (row.name, row.created_by) == ("Cast of season 1", TEST_TOKEN_FINGERPRINT)

    renamed = await api.patch(f"/v1/face-galleries/{gallery['id']}", json={"name": "Season 1"})

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Season 1"
    assert await _valossa_galleries(emulator) == {gallery["id"]: "Season 1"}
    listed = (await api.get("/v1/face-galleries")).json()["items"]
    assert [(g["id"], g["name"]) for g in listed] == [(gallery["id"], "Season 1")]


async def test_faces_in_the_default_gallery_record_it(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    assert (await api.get("/v1/face-galleries/default/faces")).json() == {
        "gallery_id": None,
        "items": [],
    }
    await api.post("/v1/face-galleries", json={"name": "Custom"})

    created = await api.post(
        "/v1/face-galleries/default/faces", json={"name": "Ada Example", "gender": "female"}
    )

    assert created.status_code == 201, created.text
    face = created.json()
    default = await emulator.valossa.list_face_identities(show_details=True)
    assert [(f.id, f.name, f.gender) for f in default.face_identities] == [
        (face["id"], "Ada Example", "female")
    ]
    galleries = (await api.get("/v1/face-galleries")).json()["items"]
    assert [(g["is_default"], g["face_count"]) for g in galleries] == [(True, 1), (False, 0)]
    assert face["gallery_id"] == galleries[0]["id"]
    listed = (await api.get("/v1/face-galleries/default/faces")).json()
    assert listed["gallery_id"] == galleries[0]["id"]
    assert [f["id"] for f in listed["items"]] == [face["id"]]


async def test_update_and_delete_a_face(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "G"})).json()
    face = (
        await api.post(
            f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Bo", "gender": "male"}
        )
    ).json()

    renamed = await api.patch(f"/v1/faces/{face['id']}", json={"name": "Bo Example"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["gender"]) == ("Bo Example", "male")
    unset = await api.patch(f"/v1/faces/{face['id']}", json={"gender": None})
    assert (unset.json()["name"], unset.json()["gender"]) == ("Bo Example", None)
    at_valossa = await emulator.valossa.list_face_identities(
        gallery_id=gallery["id"], show_details=True
    )
    assert [(f.name, f.gender) for f in at_valossa.face_identities] == [("Bo Example", None)]

    deleted = await api.delete(f"/v1/faces/{face['id']}")

    assert deleted.status_code == 204, deleted.text
    at_valossa = await emulator.valossa.list_face_identities(gallery_id=gallery["id"])
    assert at_valossa.face_identities == []
    assert await _mirror_faces(sessionmaker) == {}
    assert (await api.delete(f"/v1/faces/{face['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        ("patch", "/v1/face-galleries/default", {"name": "X"}, "cannot be renamed"),
        ("post", "/v1/face-galleries", {"name": "x" * 1025}, "1024"),
        ("post", "/v1/face-galleries", {"name": ""}, "at least 1"),
        ("post", "/v1/face-galleries/default/faces", {"gender": "other"}, "male"),
        ("post", "/v1/face-galleries/default/faces", {"name": "y" * 1025}, "1024"),
        ("patch", "/v1/faces/some-face", {}, "name and/or gender"),
    ],
)
async def test_our_rules_answer_before_valossa_is_called(
    api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    method: str,
    path: str,
    body: dict[str, object],
    detail: str,
) -> None:
    # Every Valossa call would fail now: a 422 proves that none was made.
    await emulator.configure(error_rate=1.0)

    response = await api.request(method, path, json=body)

    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]


async def test_the_default_gallery_cannot_be_renamed_by_its_id(
    api: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    face = (await api.post("/v1/face-galleries/default/faces", json={"name": "A"})).json()

    response = await api.patch(f"/v1/face-galleries/{face['gallery_id']}", json={"name": "X"})

    assert response.status_code == 422
    assert "cannot be renamed" in response.json()["detail"]
    assert await _valossa_galleries(emulator) == {face["gallery_id"]: None}


async def test_valossa_refusal_is_422_with_its_message_and_changes_nothing(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "G"})).json()
    face = (await api.post(f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Cy"})).json()
    # Someone removes the face at Valossa behind our back.
    await emulator.valossa.remove_face_identity(face_id=face["id"])

    response = await api.patch(f"/v1/faces/{face['id']}", json={"name": "Cy Renamed"})

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["valossa_messages"] == ["Face identity not found"]
    assert "Valossa refused to update the face: Face identity not found" in problem["detail"]
    assert (await _mirror_faces(sessionmaker))[face["id"]].name == "Cy"


async def test_a_failed_valossa_call_changes_nothing_here(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "Kept"})).json()
    face = (
        await api.post(f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Dee"})
    ).json()
    await emulator.configure(error_rate=1.0)

    answers = [
        await api.post("/v1/face-galleries", json={"name": "New"}),
        await api.patch(f"/v1/face-galleries/{gallery['id']}", json={"name": "Renamed"}),
        await api.post(f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Eve"}),
        await api.patch(f"/v1/faces/{face['id']}", json={"name": "Dee Renamed"}),
        await api.delete(f"/v1/faces/{face['id']}"),
    ]

    assert [a.status_code for a in answers] == [503] * 5, [a.text for a in answers]
    assert all("Valossa could not be reached" in a.json()["detail"] for a in answers)
    galleries = await _mirror_galleries(sessionmaker)
    assert [(g.id, g.name) for g in galleries.values()] == [(gallery["id"], "Kept")]
    faces = await _mirror_faces(sessionmaker)
    assert [(f.id, f.name) for f in faces.values()] == [(face["id"], "Dee")]
    await emulator.configure(error_rate=0.0)
    assert await _valossa_galleries(emulator) == {gallery["id"]: "Kept"}


async def test_unknown_ids_are_404(api: httpx.AsyncClient) -> None:
    answers = [
        await api.patch("/v1/face-galleries/nope", json={"name": "X"}),
        await api.get("/v1/face-galleries/nope/faces"),
        await api.post("/v1/face-galleries/nope/faces", json={"name": "X"}),
        await api.patch("/v1/faces/nope", json={"name": "X"}),
        await api.delete("/v1/faces/nope"),
        await api.get("/v1/faces/nope/images"),
        await api.delete("/v1/faces/nope/images/nope"),
    ]
    assert [a.status_code for a in answers] == [404] * 7


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/face-galleries"),
        ("post", "/v1/face-galleries"),
        ("patch", "/v1/face-galleries/default"),
        ("get", "/v1/face-galleries/default/faces"),
        ("post", "/v1/face-galleries/default/faces"),
        ("patch", "/v1/faces/f"),
        ("delete", "/v1/faces/f"),
        ("post", "/v1/faces/f/images"),
        ("get", "/v1/faces/f/images"),
        ("delete", "/v1/faces/f/images/i"),
    ],
)
async def test_every_route_needs_a_token(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


async def test_analyses_accept_only_our_galleries(
    api: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "G"})).json()
    base = {"customer_media_id": "m-1", "video_url": "https://media.example/v.mp4"}

    unknown = await api.post("/v1/analyses", json={**base, "face_gallery_id": "not-ours"})
    ours = await api.post("/v1/analyses", json={**base, "face_gallery_id": gallery["id"]})
    default = await api.post("/v1/analyses", json={**base, "face_gallery_id": "default"})

    assert unknown.status_code == 422
    assert "not one of our face galleries" in unknown.json()["detail"]
    assert ours.status_code == 202, ours.text
    assert ours.json()["inputs"]["face_gallery_id"] == gallery["id"]
    # Valossa uses the default gallery when an analysis names none.
    assert default.status_code == 202, default.text
    assert default.json()["inputs"]["face_gallery_id"] is None
