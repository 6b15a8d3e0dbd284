"""The operator page given text Postgres cannot store (a NUL in a path, a query parameter or a
form field): refused with a 4xx, never a 500, and nothing is created."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from service.analyses.models import Analysis
from service.db import SessionMaker
from service.faces.models import Face, FaceGallery
from tests.support.factories import insert_finished_analysis
from tests.ui.conftest import csrf_of


@pytest.mark.parametrize(
    "path",
    [
        "/ui/analyses?customer_media_id=a%00b",
        "/ui/search?q=%00",
        "/ui/search?face=x%00",
        "/ui/search?q=x&type=%00",
        "/ui/media/a%00b",
        "/ui/media/m-1?type=visual.%00",
        "/ui/face-galleries/%00",
    ],
)
async def test_a_nul_in_a_page_address_is_a_422(ui: httpx.AsyncClient, path: str) -> None:
    response = await ui.get(path)
    assert response.status_code == 422, response.text


async def test_a_nul_in_a_result_type_is_a_422(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    analysis = await insert_finished_analysis(sessionmaker, customer_media_id="m-1")
    response = await ui.get(f"/ui/analyses/{analysis.id}/results/core%00")
    assert response.status_code == 422, response.text


async def test_a_nul_in_a_face_form_creates_nothing(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    page = await ui.get("/ui/face-galleries")
    csrf = csrf_of(page.text)
    created = await ui.post("/ui/face-galleries", data={"csrf_token": csrf, "name": "Cast"})
    assert created.status_code == 303, created.text
    gallery_page = created.headers["location"]

    named = await ui.post(f"{gallery_page}/faces", data={"csrf_token": csrf, "name": "a\x00b"})
    gallery = await ui.post("/ui/face-galleries", data={"csrf_token": csrf, "name": "\x00"})
    in_path = await ui.post("/ui/face-galleries/%00/faces", data={"csrf_token": csrf, "name": "A"})
    image = await ui.post("/ui/faces/%00/images", data={"csrf_token": csrf})

    assert (named.status_code, gallery.status_code) == (303, 303)  # back, with the reason
    assert "must not contain NUL" in (await ui.get(named.headers["location"])).text
    assert (in_path.status_code, image.status_code) == (422, 422)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(FaceGallery)) == 1
        assert await session.scalar(select(func.count()).select_from(Face)) == 0


async def test_a_tampered_reanalyse_key_creates_nothing(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    analysis = await insert_finished_analysis(sessionmaker, customer_media_id="again-1")
    page = await ui.get(f"/ui/analyses/{analysis.id}")
    form = {"csrf_token": csrf_of(page.text), "request_key": "k\x00"}

    response = await ui.post(f"/ui/analyses/{analysis.id}/reanalyse", data=form)

    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/analyses/{analysis.id}"
    shown = await ui.get(response.headers["location"])
    assert re.search(r"Not re-analysed: request_key must not contain NUL", shown.text)
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(Analysis.customer_media_id == "again-1")
        )
    assert count == 1


async def test_a_result_of_a_media_with_a_non_ascii_id_downloads(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    # HTTP headers are latin-1: the id's letters in the file name made a 500.
    analysis = await insert_finished_analysis(
        sessionmaker, customer_media_id="日本/é 1", results={"core": b'{"a": 1}'}
    )
    response = await ui.get(f"/ui/analyses/{analysis.id}/results/core")
    assert response.status_code == 200, response.text
    assert response.content == b'{"a": 1}'
    assert response.headers["content-disposition"] == (
        'attachment; filename="_____1-core.json"; '
        "filename*=UTF-8''%E6%97%A5%E6%9C%AC_%C3%A9_1-core.json"
    )
