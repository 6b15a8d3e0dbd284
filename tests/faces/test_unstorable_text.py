"""Names and ids Postgres cannot store (NUL, unpaired surrogates): a 422 before Valossa is asked,
so that no gallery or face exists at Valossa without its mirror row."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from service.db import SessionMaker
from service.faces.models import Face, FaceGallery
from tests.support.emulator import EmulatorHandle

JSON = {"Content-Type": "application/json"}
#: Raw JSON bodies: a lone surrogate can only be spelled as a `\u` escape.
UNSTORABLE_NAMES = [b'{"name": "a\\u0000b"}', b'{"name": "\\u0000"}', b'{"name": "x\\ud800"}']


def _assert_422(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"][0] in {"body", "path"}


async def _counts(sessionmaker: SessionMaker, emulator: EmulatorHandle) -> tuple[int, int, int]:
    async with sessionmaker() as session:
        galleries = await session.scalar(select(func.count()).select_from(FaceGallery))
        faces = await session.scalar(select(func.count()).select_from(Face))
    at_valossa = await emulator.valossa.list_face_galleries(show_details=True)
    return int(galleries or 0), int(faces or 0), len(at_valossa.face_galleries)


@pytest.mark.parametrize("body", UNSTORABLE_NAMES)
async def test_an_unstorable_name_is_refused_before_valossa(
    api: httpx.AsyncClient, emulator: EmulatorHandle, sessionmaker: SessionMaker, body: bytes
) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "Cast"})).json()
    face = (await api.post(f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "A"})).json()
    before = await _counts(sessionmaker, emulator)

    _assert_422(await api.post("/v1/face-galleries", content=body, headers=JSON))
    _assert_422(await api.patch(f"/v1/face-galleries/{gallery['id']}", content=body, headers=JSON))
    _assert_422(
        await api.post(f"/v1/face-galleries/{gallery['id']}/faces", content=body, headers=JSON)
    )
    _assert_422(await api.patch(f"/v1/faces/{face['id']}", content=body, headers=JSON))

    assert await _counts(sessionmaker, emulator) == before
    names = [g["name"] for g in (await api.get("/v1/face-galleries")).json()["items"]]
    assert names == ["Cast"]
    faces = (await api.get(f"/v1/face-galleries/{gallery['id']}/faces")).json()["items"]
    assert [f["name"] for f in faces] == ["A"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/face-galleries/a%00b/faces"),
        ("POST", "/v1/face-galleries/%00/faces"),
        ("PATCH", "/v1/face-galleries/%00"),
        ("PATCH", "/v1/faces/%00"),
        ("DELETE", "/v1/faces/a%00b"),
        ("GET", "/v1/faces/%00/images"),
        ("DELETE", "/v1/faces/f/images/%00"),
    ],
)
async def test_a_nul_in_a_path_id_is_a_422(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={"name": "n"})
    _assert_422(response)
