"""The media page over HTTP: the summary and the timeline strips of a media indexed by the real
extractor from an emulator document, its zoom windows, and the pages when there is none."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest

from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from service.emulator.metadata import GalleryFace
from service.ui.strips import BARS_WIDTH, BARS_X, MAX_ROWS
from tests.search.search_support import drain_backlog, dumps, emulated_core
from tests.support.api import AUTH
from tests.support.factories import insert_analysis, insert_finished_analysis

NORA = GalleryFace("gallery-1", "face-1", "Nora Example", "female")


@pytest.fixture
async def harbour(sessionmaker: SessionMaker) -> dict[str, Any]:
    """A 3-minute media with a named face, analysed by the emulator and indexed by the worker's
    own extraction path; its core document."""
    doc = emulated_core("harbour-job", minutes=3, faces=(NORA,))
    await insert_finished_analysis(
        sessionmaker, customer_media_id="harbour-1", results={"core": dumps(doc)}
    )
    await drain_backlog(sessionmaker)
    return doc


def section(html: str, element_id: str) -> str:
    """The markup of the element with this id, up to its closing tag."""
    found = re.search(rf'<(\w+)[^>]* id="{element_id}"', html)
    assert found is not None, f"no #{element_id} on the page"
    tag = found.group(1)
    end = html.index(f"</{tag}>", found.start())
    return html[found.start() : end]


def rows_of(strip: str) -> list[str]:
    return [
        unescape(label) for label in re.findall(r'<g class="row [^"]*" data-label="([^"]*)"', strip)
    ]


def bars_of(strip: str, label: str) -> list[tuple[float, float]]:
    row = re.search(rf'data-label="{re.escape(label)}"[^>]*>(.*?)</g>', strip, re.S)
    assert row is not None, f"no row {label!r}"
    found = re.findall(r'<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', row.group(1))
    return [(float(x), float(width)) for x, width in found]


def href(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    assert found is not None, f"no link #{element_id}"
    return unescape(found.group(1))


async def test_summary_and_strips_of_an_indexed_media(
    ui: httpx.AsyncClient, harbour: dict[str, Any]
) -> None:
    api = (await ui.get("/v1/media/harbour-1/summary", headers=AUTH)).json()

    page = await ui.get("/ui/media/harbour-1")

    assert page.status_code == 200, page.text
    html = page.text
    faces = re.findall(r"<tr>\s*<td>(.*?)</td>", section(html, "faces"), re.S)
    assert "Nora Example" in faces[0]
    assert len(faces) == len(api["faces"])
    labels = re.findall(r"<tr>\s*<td>([^<]*)</td>", section(html, "labels"))
    assert [unescape(label) for label in labels] == [label["label"] for label in api["top_labels"]]
    for topic in api["iab_topics"]:
        assert unescape(topic["label"]) in unescape(section(html, "topics"))
    assert api["speech_excerpt"][:60] in unescape(section(html, "excerpt"))
    assert section(html, "duration").endswith("3:00")

    # The overview: every occurrence of a concept is drawn where it happens in the 180 s.
    overview = section(html, "overview")
    concept = max(
        (d for d in harbour["detections"].values() if d["t"] == "visual.context"),
        key=lambda d: len(d["occs"]),
    )
    bars = bars_of(overview, concept["label"])
    for occ in concept["occs"]:
        x = BARS_X + occ["ss"] / 180 * BARS_WIDTH
        assert any(left - 0.01 <= x <= left + width + 0.01 for left, width in bars), occ
    rows = rows_of(overview)
    assert rows[0] == "Nora Example"  # named faces first
    assert len(rows) <= MAX_ROWS
    assert re.findall(r'data-start="(\d+)" data-end="(\d+)"', overview) == [
        ("0", "60"),
        ("60", "120"),
        ("120", "180"),
    ]

    # The zoomed window: the timeline API's first minute, the same items.
    timeline = (
        await ui.get("/v1/media/harbour-1/timeline", params={"start": 0, "end": 60}, headers=AUTH)
    ).json()
    expected = {
        (i["type"], i["label"], i["start"], i["end"])
        for second in timeline["seconds"]
        for i in second["items"]
    }
    listed = re.findall(
        r"<tr>\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td class=\"mono\">([^<]+)</td>",
        section(html, "window-items"),
    )
    assert len(listed) == min(len(expected), 200)
    assert section(html, "window-title").endswith("0:00\N{EN DASH}1:00")
    assert 'id="earlier"' not in html
    assert href(html, "zoom-in") == "/ui/media/harbour-1?start=15&end=45"
    assert href(html, "zoom-out") == "/ui/media/harbour-1?start=0&end=120"
    assert href(html, "later") == "/ui/media/harbour-1?start=60&end=120"


async def test_zoom_and_type_filter_follow_the_timeline_api(
    ui: httpx.AsyncClient, harbour: dict[str, Any]
) -> None:
    page = await ui.get(
        "/ui/media/harbour-1", params={"start": 150, "end": 170, "type": "human.face"}
    )

    assert page.status_code == 200
    html = page.text
    assert section(html, "window-title").endswith("2:30\N{EN DASH}2:50")
    # A prefix, as the timeline API reads it: human.face and human.face_group.
    listed = re.findall(r'<td class="mono">([^<]+)</td>', section(html, "window-items"))
    assert listed
    assert all(kind.startswith("human.face") for kind in listed)
    drawn = re.findall(r'data-type="([^"]+)"', section(html, "overview"))
    assert "human.face" in drawn
    assert all(kind.startswith("human.face") for kind in drawn)
    assert "Nora Example" in rows_of(section(html, "overview"))
    assert href(html, "later") == "/ui/media/harbour-1?start=160&end=180&type=human.face"
    assert href(html, "earlier") == "/ui/media/harbour-1?start=130&end=150&type=human.face"
    current = re.findall(r'class="segment current" data-start="(\d+)"', section(html, "overview"))
    assert current == []  # 20 s windows: the overview's segments are those, this one is not one
    segments = re.findall(r'data-start="(\d+)" data-end="(\d+)"', section(html, "overview"))
    assert segments[0] == ("0", "20")
    assert len(segments) == 9


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"start": 0, "end": 700}, "a timeline covers at most 600 s per request"),
        ({"start": 400}, "`start` 400 is past the media's end"),
        ({"start": "soon"}, "start: 'soon' is not a number"),
        ({"start": 1.5}, "start: must be a whole number of seconds"),
        ({"start": 30, "end": 20}, "`end` must be after `start`"),
    ],
)
async def test_a_window_the_timeline_refuses_is_explained(
    ui: httpx.AsyncClient, harbour: dict[str, Any], params: dict[str, Any], problem: str
) -> None:
    page = await ui.get("/ui/media/harbour-1", params=params)

    assert page.status_code == 422
    assert problem in unescape(section(page.text, "timeline-problem"))
    assert section(page.text, "window-title").endswith("0:00\N{EN DASH}1:00")


async def test_media_page_says_why_there_is_nothing_to_show(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await insert_analysis(sessionmaker, customer_media_id="waiting-1")
    await insert_finished_analysis(sessionmaker, customer_media_id="fresh-1")  # not indexed yet

    pages = {
        media: await ui.get(f"/ui/media/{media}") for media in ("nobody", "waiting-1", "fresh-1")
    }

    reasons = {
        media: re.search(r'data-reason="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
        for media, page in pages.items()
    }
    assert {media: page.status_code for media, page in pages.items()} == dict.fromkeys(pages, 404)
    assert reasons == {
        "nobody": "unknown_media",
        "waiting-1": "not_finished",
        "fresh-1": "not_indexed",
    }
    assert "the latest analysis is pending" in pages["waiting-1"].text
    assert 'href="/ui/analyses?customer_media_id=waiting-1"' in pages["waiting-1"].text


async def test_analysis_page_links_the_media_page_and_says_which_analysis_it_shows(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    media = "films/2026 ?cut=1&a=..%2F"
    older = await insert_finished_analysis(
        sessionmaker,
        customer_media_id=media,
        results={"core": dumps(emulated_core("older-job", minutes=1))},
    )
    await drain_backlog(sessionmaker)
    newer = await insert_finished_analysis(
        sessionmaker,
        customer_media_id=media,
        results={"core": dumps(emulated_core("newer-job", minutes=1))},
    )
    await drain_backlog(sessionmaker)

    newest = (await ui.get(f"/ui/analyses/{newer.id}")).text
    old = (await ui.get(f"/ui/analyses/{older.id}")).text

    assert "This analysis is the one search and the media page read" in section(
        newest, "media-card"
    )
    assert f'href="/ui/analyses/{newer.id}"' in section(old, "media-card")
    link = href(newest, "open-media")
    assert link == "/ui/media/films%2F2026%20%3Fcut%3D1%26a%3D..%252F"
    opened = await ui.get(link)
    assert opened.status_code == 200
    assert str(newer.id) in section(opened.text, "analysis-link")

    # The "open a media" form reaches the same page.
    form = await ui.get("/ui/media", params={"customer_media_id": media})
    assert form.status_code == 303
    assert form.headers["location"] == link


async def test_analysis_page_of_a_media_not_searchable_yet(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    analysis = await insert_analysis(
        sessionmaker, customer_media_id="queued-1", status=AnalysisStatus.SUBMITTED, job_id="j-1"
    )

    page = await ui.get(f"/ui/analyses/{analysis.id}")

    assert "no finished analysis yet" in section(page.text, "media-unavailable")
    assert 'id="open-media"' not in page.text
