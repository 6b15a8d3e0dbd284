"""GET /v1/media/{id}/summary and /timeline."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from service.emulator.metadata import GalleryFace
from tests.search.search_support import drain_backlog, dumps, emulated_core, real_example
from tests.support.api import AUTH
from tests.support.factories import insert_analysis, insert_finished_analysis


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(path, params=params, headers=AUTH)


@pytest.fixture
async def charade(sessionmaker: SessionMaker) -> dict[str, Any]:
    data = real_example()
    await insert_finished_analysis(
        sessionmaker, customer_media_id="charade", results={"core": data}
    )
    await drain_backlog(sessionmaker)
    return json.loads(data)  # type: ignore[no-any-return]


async def test_summary_of_the_real_example(
    app_client: httpx.AsyncClient, charade: dict[str, Any]
) -> None:
    response = await get(app_client, "/v1/media/charade/summary")
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["duration_s"] == pytest.approx(6816.389)
    assert summary["metadata_format"] == "1.3.1"
    assert (summary["detections_count"], summary["occurrences_count"]) == (701, 6960)
    times = [label["screen_time_s"] for label in summary["top_labels"]]
    assert times == sorted(times, reverse=True)
    assert summary["top_labels"][0]["label"] == "speech"  # 5,020 s of audio.context speech
    assert not {label["type"] for label in summary["top_labels"]} & {
        "human.face",
        "topic.iab.visual",
    }
    names = [face["name"] for face in summary["faces"]]
    assert names[:3] == ["Audrey Hepburn", "Cary Grant", "Aubrey Anderson-Emmons"]
    assert all(name is None for name in names[3:])
    assert summary["faces"][0]["screen_time_s"] == pytest.approx(970.225)
    iab = {(t["type"], t["iab_id"]) for t in summary["iab_topics"]}
    expected = {
        (d["t"], d["ext_refs"]["iab"]["id"])
        for d in charade["detections"].values()
        if d["t"].startswith("topic.iab")
    }
    assert iab == expected
    assert summary["speech_excerpt"] is None


async def test_summary_speech_excerpt(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    doc = emulated_core("talky", faces=(GalleryFace("g", "f", "Nora Example", None),))
    await insert_finished_analysis(
        sessionmaker, customer_media_id="talky", results={"core": dumps(doc)}
    )
    await drain_backlog(sessionmaker)
    summary = (await get(app_client, "/v1/media/talky/summary")).json()
    first = min(
        (d for d in doc["detections"].values() if d["t"] == "audio.speech"),
        key=lambda d: d["occs"][0]["ss"],
    )
    assert summary["speech_source"] == "core"
    assert summary["speech_excerpt"].startswith(first["label"])
    assert len(summary["speech_excerpt"]) <= 502
    assert summary["faces"][0]["name"] == "Nora Example"
    assert summary["faces"][0]["face_id"] == "f"


async def test_timeline_second_by_second(
    app_client: httpx.AsyncClient, charade: dict[str, Any]
) -> None:
    response = await get(app_client, "/v1/media/charade/timeline", start=1863, end=1866)
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert [s["second"] for s in timeline["seconds"]] == [1863, 1864, 1865]
    # The same answer as Valossa's own by_second grouping, detection by detection.
    by_second = charade["detection_groupings"]["by_second"]
    for entry in timeline["seconds"]:
        ours = sorted((i["type"], i["label"]) for i in entry["items"])
        theirs = sorted(
            (
                charade["detections"][e["d"]]["t"],
                _label(charade["detections"][e["d"]]),
            )
            for e in by_second[entry["second"]]
        )
        assert ours == theirs
    faces = [i for i in timeline["seconds"][0]["items"] if i["type"] == "human.face"]
    assert {"label": "Audrey Hepburn", "start": 1862.802, "end": 1866.18} in [
        {k: f[k] for k in ("label", "start", "end")} for f in faces
    ]
    only_faces = (
        await get(app_client, "/v1/media/charade/timeline", start=1863, end=1864, type="human.")
    ).json()
    assert {i["type"] for i in only_faces["seconds"][0]["items"]} <= {
        "human.face",
        "human.face_group",
    }


def _label(detection: dict[str, Any]) -> str:
    similar = detection.get("a", {}).get("similar_to")
    if detection["t"] == "human.face" and similar:
        return str(similar[0]["name"])
    return str(detection["label"])


async def test_timeline_defaults_and_end_of_media(
    app_client: httpx.AsyncClient, charade: dict[str, Any]
) -> None:
    default = (await get(app_client, "/v1/media/charade/timeline", start=100)).json()
    assert (default["start"], default["end"]) == (100, 160)
    last = math.ceil(6816.389022)
    tail = (
        await get(app_client, "/v1/media/charade/timeline", start=last - 5, end=last + 100)
    ).json()
    assert tail["end"] == last
    assert len(tail["seconds"]) == 5


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": 10, "end": 10}, 422),
        ({"start": 10, "end": 5}, 422),
        ({"start": 0, "end": 601}, 422),
        ({"start": 7000, "end": 7010}, 422),
        ({"start": -1}, 422),
    ],
)
async def test_timeline_ranges_are_validated(
    app_client: httpx.AsyncClient, charade: dict[str, Any], params: dict[str, Any], status: int
) -> None:
    response = await get(app_client, "/v1/media/charade/timeline", **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_not_found_reasons(app_client: httpx.AsyncClient, sessionmaker: SessionMaker) -> None:
    await insert_analysis(sessionmaker, customer_media_id="busy", status=AnalysisStatus.SUBMITTED)
    await insert_finished_analysis(
        sessionmaker, customer_media_id="fresh", results={"core": dumps(emulated_core("x"))}
    )  # finished, the sweep has not run yet
    for media, reason in (
        ("nobody", "unknown_media"),
        ("busy", "not_finished"),
        ("fresh", "not_indexed"),
    ):
        for view in ("summary", "timeline"):
            response = await get(app_client, f"/v1/media/{media}/{view}")
            assert response.status_code == 404, response.text
            assert response.json()["reason"] == reason
    assert (await app_client.get("/v1/media/fresh/summary")).status_code == 401
