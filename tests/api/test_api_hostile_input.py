"""Input Postgres cannot hold, tampered cursors, absurd nesting: a 4xx problem, nothing stored."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from service.analyses.models import Analysis, AnalysisEvent
from service.analyses.states import AnalysisStatus
from service.analyses.tokens import CallbackTokens
from service.db import SessionMaker, make_engine
from tests.support.api import AUTH
from tests.support.factories import insert_analysis

BODY: dict[str, Any] = {"customer_media_id": "media-1", "video_url": "https://cdn.example/v.mp4"}
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}
SOME_ID = "6f1c1c0a6f5a4f43a4f0b3f9d2d4c001"


async def _rows(sessionmaker: SessionMaker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Analysis)) or 0)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_media_id", "media\x00-1"),
        ("title", "a\x00b"),
        ("description", "\x00"),
        ("language", "en\x00US"),
        ("face_gallery_id", "g\x00"),
        ("video_url", "https://cdn.example/v\x00.mp4"),
        ("transcript_url", "https://cdn.example/t\x00.srt"),
    ],
)
async def test_a_nul_in_any_field_is_a_422_and_nothing_is_stored(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker, field: str, value: str
) -> None:
    response = await app_client.post("/v1/analyses", json={**BODY, field: value}, headers=AUTH)
    problem = _problem(response, 422)
    assert [error["loc"] for error in problem["errors"]] == [["body", field]]
    assert await _rows(sessionmaker) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("language", "x", "body.language: String should have at least 2 characters"),
        ("language", "x" * 33, "body.language: String should have at most 32 characters"),
        ("title", "t" * 1025, "body.title: String should have at most 1024 characters"),
        ("face_gallery_id", "", "body.face_gallery_id: String should have at least 1 character"),
    ],
)
async def test_a_text_of_the_wrong_length_is_a_422_that_counts_characters(
    app_client: httpx.AsyncClient, field: str, value: str, message: str
) -> None:
    response = await app_client.post("/v1/analyses", json={**BODY, field: value}, headers=AUTH)
    assert message in _problem(response, 422)["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"customer_media_id": "media-\\ud800", "video_url": "https://cdn.example/v.mp4"}',
        b'{"customer_media_id": "m", "title": "\\udfff", "video_url": "https://cdn.example/v"}',
        b'{"customer_media_id": "m", "video_url": "https://cdn.example/v", "\\ud800": 1}',
    ],
    ids=["id", "title", "key"],
)
async def test_unpaired_surrogates_are_a_422_never_a_500(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker, raw: bytes
) -> None:
    response = await app_client.post("/v1/analyses", content=raw, headers=JSON_HEADERS)
    _problem(response, 422)
    json.loads(response.content)  # the problem itself is valid UTF-8 JSON
    assert await _rows(sessionmaker) == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/media/a%00b"),
        ("GET", "/v1/media/a%00b/metadata"),
        ("DELETE", "/v1/media/a%00b"),
        ("GET", "/v1/analyses?customer_media_id=a%00b"),
        ("GET", "/v1/analyses/%00"),
        ("POST", "/v1/analyses/%00/cancel"),
        ("GET", "/v1/media/%ff%fe"),
        ("GET", "/v1/analyses?customer_media_id=%FF"),
        ("GET", "/v1/search?q=caf%C3"),
        ("GET", "/v1/search?q=%C3&%A9=1"),
        ("GET", "/v1/webhooks/deliveries?status=%80"),
    ],
)
async def test_a_nul_or_broken_utf8_in_a_path_or_query_is_a_422(
    app_client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await app_client.request(method, path, headers=AUTH)
    _problem(response, 422)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/media/some%2Fmedia", "DELETE, GET"),
        ("POST", "/v1/media/some-media/metadata", "GET"),
        ("PUT", "/v1/analyses", "GET, POST"),
        ("DELETE", f"/v1/analyses/{SOME_ID}", "GET"),
        ("GET", f"/v1/analyses/{SOME_ID}/cancel", "POST"),
        ("POST", "/healthz", "GET"),
    ],
)
async def test_a_method_not_allowed_is_a_405_naming_every_method_the_path_has(
    app_client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await app_client.request(method, path, headers=AUTH)
    _problem(response, 405)
    assert response.headers["allow"] == allowed


async def test_a_utf8_query_string_is_read_as_such(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await insert_analysis(sessionmaker, customer_media_id="café 1")
    response = await app_client.get("/v1/analyses?customer_media_id=caf%C3%A9+1", headers=AUTH)
    assert response.status_code == 200, response.text
    assert [item["customer_media_id"] for item in response.json()["items"]] == ["café 1"]


async def test_an_idempotency_key_is_checked_like_any_text(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(
        "/v1/analyses", json=BODY, headers={**AUTH, "Idempotency-Key": "k" * 256}
    )
    _problem(response, 422)


def _cursor(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(["2026-01-01T00:00:00+00:00", 5]),
        _cursor([]),
        _cursor({}),
        _cursor("ab"),
        _cursor([1, 2]),
        _cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
        _cursor(["2026-01-01T00:00:00", SOME_ID]),  # no time zone
        _cursor(["2026-01-01T00:00:00+00:00", SOME_ID, "extra"]),
        _cursor(["\x00", SOME_ID]),
        _cursor([[[[[[]]]]]]),
        base64.urlsafe_b64encode(b"[" * 300).decode(),
        "%%%%",
        "é",
        "",
    ],
)
async def test_a_tampered_cursor_is_a_400(app_client: httpx.AsyncClient, cursor: str) -> None:
    response = await app_client.get("/v1/analyses", params={"cursor": cursor}, headers=AUTH)
    if cursor == "":
        assert response.status_code == 200  # an empty cursor is the first page
        return
    assert "invalid cursor" in _problem(response, 400)["detail"]


@pytest.mark.parametrize("depth", [3000, 16_000])
async def test_a_deeply_nested_callback_body_is_only_a_hint(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker, settings: Any, depth: int
) -> None:
    analysis = await insert_analysis(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="job-1")
    token = CallbackTokens(settings.callback_signing_secret.get_secret_value()).token_for(
        analysis.id
    )
    response = await app_client.post(f"/callbacks/valossa/{token}", content=b"[" * depth)
    assert response.status_code == 200, response.text
    async with sessionmaker() as session:
        reasons = await session.scalars(
            select(AnalysisEvent.reason).where(AnalysisEvent.analysis_id == analysis.id)
        )
        assert list(reasons) == ["callback received (status hint: unknown)"]


async def test_a_deeply_nested_api_body_is_a_4xx(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/v1/analyses", content=b"[" * 60_000, headers=JSON_HEADERS)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_database_errors_never_list_the_sql_parameters(database_url: str) -> None:
    """What reached the database before validation did: a NUL beside a presigned URL."""
    engine = make_engine(database_url)
    presigned = "https://bucket.example/v.mp4?X-Amz-Signature=deadbeefcafe"
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as failure:
                await connection.execute(
                    text("SELECT :url, :title"), {"url": presigned, "title": "a\x00b"}
                )
    finally:
        await engine.dispose()
    assert "deadbeefcafe" not in str(failure.value)
    assert "SQL parameters hidden" in str(failure.value)
