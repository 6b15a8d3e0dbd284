"""GET /v1/analyses: keyset pagination newest first, filters, cursors."""

from __future__ import annotations

import base64

import httpx

from service.analyses.results import record_absent
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.support.factories import insert_analysis


async def _create(client: httpx.AsyncClient, headers: dict[str, str], media: str) -> str:
    body = {"customer_media_id": media, "video_url": "https://cdn.example/v.mp4"}
    response = await client.post("/v1/analyses", json=body, headers=headers)
    assert response.status_code == 202
    return str(response.json()["id"])


async def test_three_pages_newest_first_then_no_cursor(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    created = [await _create(app_client, auth_headers, f"m{i}") for i in range(7)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await app_client.get("/v1/analyses", params=params, headers=auth_headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))


async def test_an_exactly_full_last_page_has_no_next_cursor(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    for i in range(2):
        await _create(app_client, auth_headers, f"m{i}")
    page = (await app_client.get("/v1/analyses?limit=2", headers=auth_headers)).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


async def test_filters_by_media_and_status(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    a1 = await _create(app_client, auth_headers, "a")
    await _create(app_client, auth_headers, "b")
    a2 = await _create(app_client, auth_headers, "a")
    done = await insert_analysis(
        sessionmaker, customer_media_id="a", status=AnalysisStatus.FINISHED
    )

    by_media = await app_client.get(
        "/v1/analyses", params={"customer_media_id": "a", "limit": 2}, headers=auth_headers
    )
    first = by_media.json()
    assert [i["id"] for i in first["items"]] == [str(done.id), a2]
    rest = await app_client.get(
        "/v1/analyses",
        params={"customer_media_id": "a", "limit": 2, "cursor": first["next_cursor"]},
        headers=auth_headers,
    )
    assert [i["id"] for i in rest.json()["items"]] == [a1]

    finished = await app_client.get(
        "/v1/analyses", params={"status": "finished"}, headers=auth_headers
    )
    assert [i["id"] for i in finished.json()["items"]] == [str(done.id)]
    both = await app_client.get(
        "/v1/analyses",
        params={"status": "pending", "customer_media_id": "a"},
        headers=auth_headers,
    )
    assert [i["id"] for i in both.json()["items"]] == [a2, a1]


async def test_bad_parameters(app_client: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
    for cursor in ("garbage!", base64.urlsafe_b64encode(b'["x", "y"]').decode(), "e30"):
        response = await app_client.get(
            "/v1/analyses", params={"cursor": cursor}, headers=auth_headers
        )
        assert response.status_code == 400, cursor
        assert "invalid cursor" in response.json()["detail"]
    for params in ({"limit": 0}, {"limit": 101}, {"status": "sleeping"}):
        response = await app_client.get("/v1/analyses", params=params, headers=auth_headers)
        assert response.status_code == 422, params


async def test_list_shows_stored_results_per_item(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    analysis = await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED)
    async with sessionmaker() as session, session.begin():
        record_absent(session, analysis.id, "speech_to_text_srt", "no speech")
    page = (await app_client.get("/v1/analyses", headers=auth_headers)).json()
    assert page["items"][0]["results"]["speech_to_text_srt"]["state"] == "absent"
    assert page["items"][0]["results"]["speech_to_text_srt"]["absent_reason"] == "no speech"
