"""Every customer_media_id POST accepts is readable and erasable under /v1/media/{id}.

A client writes the id as ONE percent-encoded path segment (`quote(id, safe="")`).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest
from fastapi import APIRouter, Depends
from sqlalchemy import func, select

from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.analyses.valossa_jobs import valossa_media_id
from service.api.auth import require_cms_token
from service.api.media_paths import MediaIdPath
from service.db import SessionMaker
from service.main import create_app
from service.settings import Settings
from tests.support.api import AUTH
from tests.support.emulator import EmulatorHandle
from tests.support.factories import insert_finished_analysis

IDS = [
    "a/b",
    "shows/42/episode 1.mp4",
    "../../etc/passwd",
    "a/../b",
    "./x",
    "..a",
    "...",
    "%",
    "100%25",
    "%2F",
    "what?x=1&y=2",
    "#fragment",
    "tab\there",
    "line\r\nbreak",
    " padded ",
    "/leading",
    "trailing/",
    "//double//",
    "ünïcødé/ß/日本語",
    "😀",
    "metadata",
    "x/metadata",
    "+plus+",
    "x" * 1024,
    "é" * 1024,
    "😀" * 1024,
]


def _path(customer_media_id: str, suffix: str = "") -> str:
    return f"/v1/media/{quote(customer_media_id, safe='')}{suffix}"


async def _count(sessionmaker: SessionMaker, customer_media_id: str) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).where(Analysis.customer_media_id == customer_media_id)
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("customer_media_id", IDS, ids=range(len(IDS)))
async def test_an_accepted_id_can_be_read_listed_and_erased(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    sessionmaker: SessionMaker,
    customer_media_id: str,
) -> None:
    created = await valossa_api.post(
        "/v1/analyses",
        json={"customer_media_id": customer_media_id, "video_url": "https://cdn.example/v"},
        headers=AUTH,
    )
    assert created.status_code == 202, created.text
    job_id = await emulator.new_job(valossa_media_id(customer_media_id, uuid.uuid4(), 1))
    await insert_finished_analysis(  # its job at Valossa is deleted too
        sessionmaker,
        customer_media_id=customer_media_id,
        results={"core": b'{"id": 1}'},
        job_id=job_id,
    )

    media = await valossa_api.get(_path(customer_media_id), headers=AUTH)
    assert media.status_code == 200, media.text
    assert media.json()["customer_media_id"] == customer_media_id
    assert media.json()["analyses_count"] == 2
    metadata = await valossa_api.get(_path(customer_media_id, "/metadata"), headers=AUTH)
    assert metadata.status_code == 200, metadata.text
    assert metadata.content == b'{"id": 1}'
    listed = await valossa_api.get(
        "/v1/analyses", params={"customer_media_id": customer_media_id}, headers=AUTH
    )
    assert len(listed.json()["items"]) == 2

    erased = await valossa_api.delete(_path(customer_media_id), headers=AUTH)
    assert erased.status_code == 204, erased.text
    assert await _count(sessionmaker, customer_media_id) == 0
    assert await emulator.jobs_of(customer_media_id) == []


async def test_ids_that_share_a_prefix_with_a_sub_resource_stay_apart(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await insert_finished_analysis(sessionmaker, customer_media_id="x", results={"core": b"1"})
    await insert_finished_analysis(
        sessionmaker, customer_media_id="x/metadata", results={"core": b"2"}
    )
    plain = await app_client.get(_path("x/metadata"), headers=AUTH)
    assert plain.json()["customer_media_id"] == "x/metadata"
    nested = await app_client.get(_path("x/metadata", "/metadata"), headers=AUTH)
    assert nested.content == b"2"
    # Unencoded, the slash is a separator: this is the metadata of "x".
    assert (await app_client.get("/v1/media/x/metadata", headers=AUTH)).content == b"1"


@pytest.mark.parametrize(
    ("customer_media_id", "reason"),
    [
        ("   ", "whitespace"),
        ("\t\r\n", "whitespace"),
        ("\u3000\u00a0", "whitespace"),
        (".", "'.' or '..'"),
        ("..", "'.' or '..'"),
        ("", "at least 1 character"),
        ("x" * 1025, "at most 1024 characters"),
    ],
)
async def test_ids_that_cannot_be_addressed_are_refused_with_a_reason(
    app_client: httpx.AsyncClient,
    sessionmaker: SessionMaker,
    customer_media_id: str,
    reason: str,
) -> None:
    response = await app_client.post(
        "/v1/analyses",
        json={"customer_media_id": customer_media_id, "video_url": "https://cdn.example/v"},
        headers=AUTH,
    )
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Analysis)) == 0


async def test_a_sub_resource_router_added_later_addresses_the_same_ids(
    settings: Settings, sessionmaker: SessionMaker
) -> None:
    """How /summary and /timeline plug in: their own router, the id as MediaIdPath."""
    summary = APIRouter(prefix="/v1/media", dependencies=[Depends(require_cms_token)])

    @summary.get("/{customer_media_id}/annotations")
    async def media_summary(customer_media_id: MediaIdPath) -> dict[str, str]:
        return {"summary_of": customer_media_id}

    app = create_app(settings)
    app.include_router(summary)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for customer_media_id in ("a/b", "x/annotations", "100%", "日本"):
                response = await client.get(_path(customer_media_id, "/annotations"), headers=AUTH)
                assert response.json() == {"summary_of": customer_media_id}


async def test_the_status_of_a_media_addressed_with_an_encoded_slash(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await insert_finished_analysis(sessionmaker, customer_media_id="a/b")
    response = await app_client.get("/v1/media/a%2Fb", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == AnalysisStatus.FINISHED
