"""GET /v1/search: tolerant matching, filters, ranking and signed cursors, on real Postgres."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.db import SessionMaker
from service.emulator.metadata import GalleryFace
from tests.search.search_support import drain_backlog, dumps, emulated_core, real_example
from tests.support.api import AUTH
from tests.support.factories import insert_finished_analysis

FACE = GalleryFace("gallery-7", "face-7", "Emilia Example", "female")
SENTENCE = "The zeppelin landed beside the old harbour."


def with_detection(doc: dict[str, Any], detection: dict[str, Any]) -> dict[str, Any]:
    """The document plus one detection (ids and occurrence ids kept unique)."""
    det_id = str(len(doc["detections"]) + 1000)
    for n, occ in enumerate(detection.get("occs", [])):
        occ.setdefault("id", f"9{det_id}{n}")
    doc["detections"][det_id] = detection
    return doc


async def index(sessionmaker: SessionMaker, media: str, doc: dict[str, Any]) -> None:
    await insert_finished_analysis(
        sessionmaker, customer_media_id=media, results={"core": dumps(doc)}
    )


@pytest.fixture
async def library(sessionmaker: SessionMaker) -> None:
    """Four indexed media with known content."""
    air = with_detection(
        emulated_core("air"),
        {
            "t": "visual.context",
            "label": "airplane",
            "cid": "zzAirplane01",
            "occs": [
                {"ss": 12.0, "se": 18.0, "c_max": 0.91},
                {"ss": 40.0, "se": 41.0, "c_max": 0.6},
            ],
        },
    )
    talk = with_detection(
        emulated_core("talk"),
        {"t": "audio.speech", "label": SENTENCE, "occs": [{"ss": 30.5, "se": 33.25}]},
    )
    await index(sessionmaker, "air-1", air)
    await index(sessionmaker, "talk-1", talk)
    await index(sessionmaker, "face-1", emulated_core("face", faces=(FACE,)))
    await index(sessionmaker, "plain-1", emulated_core("plain"))
    await drain_backlog(sessionmaker)


async def search(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/search", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def media_ids(page: dict[str, Any]) -> list[str]:
    return [item["customer_media_id"] for item in page["items"]]


@pytest.mark.parametrize("query", ["airplane", "airplanes", "AIRPLANE", "airplain", "aeroplane"])
async def test_label_matching_tolerates_case_plurals_and_typos(
    app_client: httpx.AsyncClient, library: None, query: str
) -> None:
    page = await search(app_client, q=query)
    if query == "aeroplane":  # a different word, not a typo: no match
        assert "air-1" not in media_ids(page)
        return
    assert media_ids(page)[0] == "air-1"
    item = page["items"][0]
    assert set(item) == {"customer_media_id", "analysis_id", "title", "score", "matches"}
    assert item["title"] == "Harbour at dawn"
    planes = [m for m in item["matches"] if m["label"] == "airplane"]
    assert planes == [
        {
            "type": "visual.context",
            "label": "airplane",
            "start": 12.0,
            "end": 18.0,
            "confidence": 0.91,
        },
        {
            "type": "visual.context",
            "label": "airplane",
            "start": 40.0,
            "end": 41.0,
            "confidence": 0.6,
        },
    ]


async def test_a_spoken_word_finds_the_segment(
    app_client: httpx.AsyncClient, library: None
) -> None:
    page = await search(app_client, q="zeppelins")
    assert media_ids(page) == ["talk-1"]
    assert page["items"][0]["matches"] == [
        {"type": "audio.speech", "label": SENTENCE, "start": 30.5, "end": 33.25, "confidence": None}
    ]
    both_words = await search(app_client, q="zeppelin harbour")
    assert media_ids(both_words) == ["talk-1"]
    assert media_ids(await search(app_client, q="zeppelin submarine")) == []


async def test_a_face_identity_by_name_and_by_filter(
    app_client: httpx.AsyncClient, library: None
) -> None:
    for query in ("Emilia Example", "emilia", "Emila"):
        page = await search(app_client, q=query)
        assert media_ids(page) == ["face-1"], query
        matches = page["items"][0]["matches"]
        assert matches
        assert {(m["type"], m["label"]) for m in matches} == {("human.face", "Emilia Example")}
        assert all(m["start"] is not None and m["end"] >= m["start"] for m in matches)
    for face in ("emilia example", "face-7"):
        alone = await search(app_client, face=face)
        assert media_ids(alone) == ["face-1"]
    assert media_ids(await search(app_client, q="person", face="face-7")) == ["face-1"]
    assert media_ids(await search(app_client, q="person", face="Nobody Known")) == []


async def test_filters(app_client: httpx.AsyncClient, library: None) -> None:
    visual = await search(app_client, q="airplane", type="visual.")
    assert media_ids(visual) == ["air-1"]
    assert media_ids(await search(app_client, q="airplane", type="audio.")) == []
    assert media_ids(await search(app_client, q="zeppelin", type="visual.")) == []
    assert media_ids(await search(app_client, q="zeppelin", type=["visual.", "audio.speech"])) == [
        "talk-1"
    ]

    confident = await search(app_client, q="airplane", min_confidence=0.9)
    assert [m["start"] for m in confident["items"][0]["matches"] if m["label"] == "airplane"] == [
        12.0
    ]
    assert "air-1" not in media_ids(await search(app_client, q="airplane", min_confidence=0.95))

    window = await search(app_client, q="airplane", **{"from": 35, "to": 45})
    assert [(m["start"], m["end"]) for m in window["items"][0]["matches"]] == [(40.0, 41.0)]
    assert media_ids(await search(app_client, q="airplane", **{"from": 50, "to": 60})) == []
    assert media_ids(await search(app_client, q="zeppelin", **{"from": 0, "to": 10})) == []
    assert media_ids(await search(app_client, q="zeppelin", **{"from": 31, "to": 32})) == ["talk-1"]


async def test_pages_walk_every_match_once_in_order(
    app_client: httpx.AsyncClient, library: None
) -> None:
    everything = await search(app_client, q="person", limit=100)
    assert len(everything["items"]) == 4
    assert everything["next_cursor"] is None
    scores = [item["score"] for item in everything["items"]]
    assert scores == sorted(scores, reverse=True)

    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "person", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await search(app_client, **params)
        walked += media_ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == media_ids(everything)


async def test_cursors_are_checked(app_client: httpx.AsyncClient, library: None) -> None:
    cursor = (await search(app_client, q="person", limit=1))["next_cursor"]
    body, mac = cursor.split(".")
    forged = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    for bad in (forged, "garbage", cursor + "x"):
        response = await app_client.get(
            "/v1/search", params={"q": "person", "cursor": bad}, headers=AUTH
        )
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
    other = await app_client.get("/v1/search", params={"q": "man", "cursor": cursor}, headers=AUTH)
    assert other.status_code == 400
    assert "another search" in other.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x", "min_confidence": 1.5},
        {"q": "x", "from": -1},
        {"q": "x", "from": 10, "to": 5},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 101},
        {"q": "a\x00b"},  # Postgres text cannot hold NUL: a 422, not a 500
        {"q": "x", "face": "\x00"},
        {"face": "Emilia\x00"},
        {"q": "x", "type": ["visual.", "\x00"]},
    ],
)
async def test_invalid_parameters_are_422(
    app_client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await app_client.get("/v1/search", params=params, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_too_long_query_is_reported_as_a_string(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/v1/search", params={"q": "w" * 201}, headers=AUTH)
    assert response.status_code == 422
    assert "String should have at most 200 characters" in response.json()["detail"]


async def test_a_nul_in_a_timeline_type_is_a_422(
    app_client: httpx.AsyncClient, library: None
) -> None:
    response = await app_client.get(
        "/v1/media/air-1/timeline", params={"type": "visual.\x00"}, headers=AUTH
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "type", 0]
    assert (await app_client.get("/v1/media/air-1/timeline", headers=AUTH)).status_code == 200


async def test_search_needs_a_token(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/v1/search", params={"q": "x"})).status_code == 401


async def test_the_real_example_is_searchable(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await insert_finished_analysis(
        sessionmaker, customer_media_id="charade", results={"core": real_example()}
    )
    await drain_backlog(sessionmaker)
    page = await search(app_client, q="Audrey Hepburn")
    assert media_ids(page) == ["charade"]
    first = page["items"][0]["matches"][0]
    assert first == {
        "type": "human.face",
        "label": "Audrey Hepburn",
        "start": 244.954,
        "end": 249.541,
        "confidence": 0.968,
    }
    paris = await search(app_client, q="paris", type="transcript.")
    assert paris["items"][0]["matches"][0]["type"] == "transcript.keyword.name.location"
