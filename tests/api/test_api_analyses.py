"""POST/GET /v1/analyses: authentication, validation, idempotency, reading one analysis."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.analyses.models import Analysis, AnalysisEvent
from service.db import SessionMaker
from service.main import create_app
from service.settings import Settings
from tests.support.api import api_client

BODY: dict[str, Any] = {"customer_media_id": "media-1", "video_url": "https://cdn.example/v.mp4"}


async def _count(sessionmaker: SessionMaker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Analysis)) or 0)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic dGVzdC10b2tlbjo="},
        {"Authorization": "Bearer test-token-but-longer"},
    ],
    ids=["missing", "wrong", "basic", "prefix"],
)
async def test_requests_without_an_accepted_token_get_401(
    app_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in [
        ("POST", "/v1/analyses"),
        ("GET", "/v1/analyses"),
        ("GET", f"/v1/analyses/{uuid.uuid4()}"),
        ("GET", "/v1/media/m"),
        ("DELETE", "/v1/media/m"),
    ]:
        response = await app_client.request(method, path, headers=headers, json=BODY)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert "wrong-token" not in response.text
        assert "test-token" not in response.text


async def test_every_cms_route_refuses_a_request_without_a_token_and_says_so(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    """The middleware guards the whole `/v1/` prefix (no route relies on a dependency of its
    own), and the OpenAPI document declares the bearer scheme on each of those operations."""
    app = create_app(settings)
    spec = app.openapi()
    operations = [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, methods in spec["paths"].items()
        if path.startswith("/v1/")
        for method in methods
    ]
    assert len(operations) > 20
    for method, path in operations:
        response = await app_client.request(method, path, headers={"Authorization": "Bearer no"})
        assert response.status_code == 401, (method, path, response.text)
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            expected = [{"HTTPBearer": []}] if path.startswith("/v1/") else None
            assert operation.get("security") == expected, (method, path)


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", b"Bearer \xa0test-token")],  # a no-break space is not HTTP whitespace
        [("Authorization", b"Bearer test-token\x85")],
        [("Authorization", "Bearer wrong-token"), ("Authorization", "Bearer test-token")],
        [("Authorization", "Bearer test-token"), ("Authorization", "Bearer wrong-token")],
        [("Authorization", "Bearer test-token"), ("Authorization", "Bearer test-token")],
    ],
    ids=["nbsp", "nel", "wrong-then-right", "right-then-wrong", "twice"],
)
async def test_a_token_with_other_whitespace_or_in_two_headers_is_refused(
    app_client: httpx.AsyncClient, headers: list[tuple[str, str | bytes]]
) -> None:
    response = await app_client.get("/v1/media/m", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


async def test_http_whitespace_around_the_token_is_allowed(app_client: httpx.AsyncClient) -> None:
    for value in ("Bearer  test-token", "Bearer test-token\t", "bearer test-token "):
        response = await app_client.get("/v1/analyses", headers={"Authorization": value})
        assert response.status_code == 200, (value, response.text)


async def test_every_configured_token_is_accepted(app_client: httpx.AsyncClient) -> None:
    for token in ("test-token", "second-token"):
        response = await app_client.get(
            "/v1/analyses", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text


async def test_create_stores_a_pending_analysis_and_answers_202(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    body = {**BODY, "title": "A film", "description": "About things", "language": "fi-FI"}
    response = await app_client.post("/v1/analyses", json=body, headers=auth_headers)

    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/analyses/{created['id']}"
    assert created["status"] == "pending"
    assert created["customer_media_id"] == "media-1"
    assert created["inputs"]["video_url"] == BODY["video_url"]
    assert created["inputs"]["language"] == "fi-FI"
    assert created["inputs"]["result_types"] == [
        "core",
        "speech_to_text_srt",
        "speech_to_text_vtt",
        "speech_to_text_ttml",
        "speech_to_text_avid_txt",
    ]
    assert created["valossa"] == {
        "job_id": None,
        "status": None,
        "media_transfer_status": None,
        "details": None,
    }
    assert created["results"] == {}
    assert created["overdue"] is False
    async with sessionmaker() as session:
        row = await session.get(Analysis, uuid.UUID(created["id"]))
        assert row is not None
        assert row.next_attempt_at is not None
        assert row.deadline_at is not None
        events = (await session.scalars(select(AnalysisEvent))).all()
    assert [(e.from_status, e.to_status, e.reason) for e in events] == [
        (None, "pending", "created")
    ]

    fetched = await app_client.get(response.headers["location"], headers=auth_headers)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_create_accepts_a_public_source_url(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    body = {"customer_media_id": "m", "source_url": "https://93.184.216.34/film.mp4"}
    response = await app_client.post("/v1/analyses", json=body, headers=auth_headers)
    assert response.status_code == 202, response.text
    assert response.json()["inputs"]["source_url"] == body["source_url"]
    assert response.json()["inputs"]["video_url"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"video_url": "https://x.example/v.mp4"}, "customer_media_id: Field required"),
        ({**BODY, "customer_media_id": ""}, "customer_media_id"),
        ({**BODY, "customer_media_id": "x" * 1025}, "customer_media_id"),
        ({"customer_media_id": "m"}, "exactly one of video_url and source_url"),
        (
            {**BODY, "source_url": "https://93.184.216.34/v.mp4"},
            "exactly one of video_url and source_url",
        ),
        ({**BODY, "video_url": "ftp://x.example/v.mp4"}, "video_url: Value error, must be a URL"),
        ({**BODY, "video_url": "file:///etc/passwd"}, "video_url"),
        ({"customer_media_id": "m", "source_url": "s3://bucket/v.mp4"}, "source_url"),
        ({**BODY, "transcript_url": "valossaupload://abc"}, "transcript_url"),
        ({**BODY, "result_types": ["core", "core"]}, "must not contain duplicates"),
        ({**BODY, "result_types": ["everything"]}, "result_types.0"),
        ({**BODY, "result_types": []}, "result_types"),
        ({**BODY, "colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
async def test_invalid_bodies_get_422_with_a_message(
    app_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
    body: dict[str, Any],
    message: str,
) -> None:
    response = await app_client.post("/v1/analyses", json=body, headers=auth_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
    assert await _count(sessionmaker) == 0


@pytest.mark.parametrize(
    "source_url",
    [
        "http://127.0.0.1:8080/v.mp4",
        "http://localhost/v.mp4",
        "http://10.1.2.3/v.mp4",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/v.mp4",
        "http://[::ffff:192.168.0.1]/v.mp4",
        "http://0.0.0.0/v.mp4",
    ],
)
async def test_source_urls_that_reach_private_addresses_are_refused(
    app_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
    source_url: str,
) -> None:
    body = {"customer_media_id": "m", "source_url": source_url}
    response = await app_client.post("/v1/analyses", json=body, headers=auth_headers)
    assert response.status_code == 422, response.text
    assert "non-public address" in response.json()["detail"]
    assert await _count(sessionmaker) == 0


async def test_private_source_urls_are_allowed_when_configured(
    settings: Settings, auth_headers: dict[str, str]
) -> None:
    allowing = settings.model_copy(update={"allow_private_source_urls": True})
    async with api_client(allowing) as client:
        body = {"customer_media_id": "m", "source_url": "http://127.0.0.1:8080/v.mp4"}
        response = await client.post("/v1/analyses", json=body, headers=auth_headers)
    assert response.status_code == 202, response.text


async def test_same_idempotency_key_and_body_returns_the_original(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "req-1"}
    first = await app_client.post("/v1/analyses", json=BODY, headers=headers)
    # The same body with a default spelled out is the same request.
    second = await app_client.post(
        "/v1/analyses", json={**BODY, "language": "en-US"}, headers=headers
    )

    assert first.status_code == 202
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["location"] == first.headers["location"]
    assert await _count(sessionmaker) == 1


async def test_same_idempotency_key_with_another_body_is_422(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "req-1"}
    first = await app_client.post("/v1/analyses", json=BODY, headers=headers)
    other = await app_client.post(
        "/v1/analyses", json={**BODY, "title": "different"}, headers=headers
    )
    assert other.status_code == 422
    assert "different request body" in other.json()["detail"]
    assert other.json()["analysis_id"] == first.json()["id"]
    assert await _count(sessionmaker) == 1


async def test_concurrent_first_requests_with_one_key_make_one_analysis(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *(app_client.post("/v1/analyses", json=BODY, headers=headers) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [202]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _count(sessionmaker) == 1


async def test_idempotency_key_length_is_checked(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "k" * 256}
    response = await app_client.post("/v1/analyses", json=BODY, headers=headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


async def test_without_a_key_each_post_is_a_new_analysis(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    for _ in range(2):
        response = await app_client.post("/v1/analyses", json=BODY, headers=auth_headers)
        assert response.status_code == 202
    assert await _count(sessionmaker) == 2


async def test_unknown_and_malformed_ids(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    unknown = await app_client.get(f"/v1/analyses/{uuid.uuid4()}", headers=auth_headers)
    assert unknown.status_code == 404
    assert unknown.json()["title"] == "Not Found"
    events = await app_client.get(f"/v1/analyses/{uuid.uuid4()}/events", headers=auth_headers)
    assert events.status_code == 404
    malformed = await app_client.get("/v1/analyses/not-a-uuid", headers=auth_headers)
    assert malformed.status_code == 422


async def test_events_list_the_history_oldest_first(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    created = (await app_client.post("/v1/analyses", json=BODY, headers=auth_headers)).json()
    analysis_id = uuid.UUID(created["id"])
    async with sessionmaker() as session, session.begin():
        session.add(
            AnalysisEvent(
                analysis_id=analysis_id,
                from_status="pending",
                to_status="submitting",
                reason="a Valossa slot is free",
                actor="worker-1",
            )
        )
    response = await app_client.get(f"/v1/analyses/{analysis_id}/events", headers=auth_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["analysis_id"] == str(analysis_id)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["items"]] == [
        (None, "pending", "api"),
        ("pending", "submitting", "worker-1"),
    ]


async def test_request_bodies_over_the_limit_get_413(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    body = {**BODY, "description": "x" * 70_000}
    response = await app_client.post("/v1/analyses", json=body, headers=auth_headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
