"""`valossa-ingest faces sync` repairs a mirror edited behind its back, and one left behind by
changes made at Valossa directly."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import httpx
from sqlalchemy import delete, select, update

from service.db import SessionMaker
from service.faces.models import Face, FaceGallery, FaceImage
from service.faces.sync import sync_faces
from tests.faces.conftest import run_cli
from tests.support.emulator import EMULATOR_KEY, EmulatorHandle
from tests.support.images import face_png

Snapshot = dict[str, tuple[str | None, bool, dict[str, tuple[str | None, str | None, list[str]]]]]


async def _valossa_snapshot(emulator: EmulatorHandle) -> Snapshot:
    snapshot: Snapshot = {}
    listed = await emulator.valossa.list_face_galleries(show_details=True)
    for gallery in listed.face_galleries:
        faces = await emulator.valossa.list_face_identities(
            gallery_id=gallery.id, show_details=True
        )
        by_face = {}
        for face in faces.face_identities:
            images = await emulator.valossa.list_face_images(face_id=face.id)
            by_face[face.id] = (face.name, face.gender, sorted(i.id for i in images.face_images))
        snapshot[gallery.id] = (gallery.name, bool(gallery.model_extra["is_default"]), by_face)
    return snapshot


async def _mirror_snapshot(sessionmaker: SessionMaker) -> Snapshot:
    async with sessionmaker() as session:
        galleries = list(await session.scalars(select(FaceGallery)))
        faces = list(await session.scalars(select(Face)))
        images = list(await session.scalars(select(FaceImage)))
    return {
        g.id: (
            g.name,
            g.is_default,
            {
                f.id: (f.name, f.gender, sorted(i.id for i in images if i.face_id == f.id))
                for f in faces
                if f.gallery_id == g.id
            },
        )
        for g in galleries
    }


def _sync(database_url: str, emulator_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "DATABASE_URL": database_url,
        "VALOSSA_API_KEY": EMULATOR_KEY,
        "VALOSSA_BASE_URL": emulator_url,
    }
    return run_cli("faces", "sync", *args, env=env)


async def _image(api: httpx.AsyncClient, face_id: str) -> str:
    response = await api.post(
        f"/v1/faces/{face_id}/images", files={"image": ("f.png", face_png(), "image/png")}
    )
    image_id: str = response.json()["id"]
    return image_id


async def _post(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_sync_repairs_the_mirror(
    api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    sessionmaker: SessionMaker,
    database_url: str,
) -> None:
    cast = await _post(api, "/v1/face-galleries", {"name": "Cast"})
    ada = await _post(api, f"/v1/face-galleries/{cast['id']}/faces", {"name": "Ada"})
    bo = await _post(api, f"/v1/face-galleries/{cast['id']}/faces", {"name": "Bo"})
    dee = await _post(api, "/v1/face-galleries/default/faces", {"name": "Dee"})
    ada_images = [await _image(api, ada["id"]), await _image(api, ada["id"])]
    bo_image = await _image(api, bo["id"])
    # Changes made at Valossa directly (the Python client, another tool).
    valossa = emulator.valossa
    cy = (await valossa.create_face_identity(gallery_id=cast["id"], name="Cy")).face_id
    await valossa.remove_face_image(image_id=bo_image)
    await valossa.update_face_gallery(gallery_id=cast["id"], name="Cast, season 2")
    await valossa.create_face_gallery(name="Extras")
    # Edits of the mirror behind its back.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Face).where(Face.id == ada["id"]).values(name="Wrong", gender="male")
        )
        await session.execute(delete(Face).where(Face.id == dee["id"]))
        session.add(FaceGallery(id="ghost-gallery", name="Ghost"))
        await session.flush()
        session.add(Face(id="ghost-face", gallery_id="ghost-gallery", name="Nobody"))
        session.add(FaceImage(id="ghost-image", face_id=ada["id"]))

    expected = await _valossa_snapshot(emulator)
    assert await _mirror_snapshot(sessionmaker) != expected

    dry = await asyncio.to_thread(_sync, database_url, emulator.url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would change: gallery ghost-gallery (Ghost): removed with its 1 face(s)" in dry.stdout
    assert "ghost-gallery" in await _mirror_snapshot(sessionmaker)

    result = await asyncio.to_thread(_sync, database_url, emulator.url)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"face {ada['id']}: name 'Wrong' -> 'Ada', gender 'male' -> None" in lines
    assert f"face {dee['id']} (Dee): added" in lines
    assert f"face {cy} (Cy): added" in lines
    assert f"image {bo_image} of face {bo['id']}: removed" in lines
    assert f"image ghost-image of face {ada['id']}: removed" in lines
    assert f"gallery {cast['id']}: name 'Cast' -> 'Cast, season 2'" in lines
    assert any(line.endswith("(Extras): added") for line in lines)
    assert lines[-1].startswith("made 8 change(s); Valossa has 3 galleries, 4 faces, 2 images")
    assert await _mirror_snapshot(sessionmaker) == expected
    assert expected[cast["id"]][2][ada["id"]] == ("Ada", None, sorted(ada_images))
    async with sessionmaker() as session:
        kept = await session.get(Face, ada["id"])
        assert kept is not None
        assert kept.created_by is not None  # what we knew about who made it survives

    again = await asyncio.to_thread(_sync, database_url, emulator.url)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "the mirror already matches Valossa: 3 galleries, 4 faces, 2 images\n"


def test_sync_needs_the_valossa_key(database_url: str) -> None:
    result = run_cli("faces", "sync", env={"DATABASE_URL": database_url})

    assert result.returncode == 2
    assert "VALOSSA_API_KEY" in result.stderr


async def test_a_lost_answer_is_reported_and_sync_records_what_valossa_did(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker
) -> None:
    # Valossa makes the gallery, but its answer never arrives (create is never retried).
    await emulator.configure(lost_response_rate=1.0)

    response = await api.post("/v1/face-galleries", json={"name": "Lost answer"})

    assert response.status_code == 503
    assert "faces sync" in response.json()["detail"]
    assert await _mirror_snapshot(sessionmaker) == {}
    await emulator.configure(lost_response_rate=0.0)
    changes = await sync_faces(sessionmaker, emulator.valossa)
    assert len(changes.lines) == 1
    assert changes.lines[0].endswith("(Lost answer): added")
    assert await _mirror_snapshot(sessionmaker) == await _valossa_snapshot(emulator)
