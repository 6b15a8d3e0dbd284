"""The search page over HTTP: the search API's flow behind a form, its filters, its keyset
pages and its refusals, on media indexed by the real extractor from emulator documents."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from service.db import SessionMaker
from service.emulator.metadata import GalleryFace
from tests.search.search_support import drain_backlog, dumps, emulated_core
from tests.support.api import AUTH
from tests.support.factories import insert_finished_analysis
from tests.ui.test_media_http import section

NORA = GalleryFace("gallery-1", "face-1", "Nora Example", "female")


def found_media(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<li class="card result" data-media="([^"]*)"', html)]


def next_page(html: str) -> str | None:
    found = re.search(r'id="next-page" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


@pytest.fixture
async def library(sessionmaker: SessionMaker) -> dict[str, dict[str, Any]]:
    """Three indexed media: one with a named face; their core documents."""
    docs = {
        "harbour-1": emulated_core("harbour-job", minutes=2, faces=(NORA,)),
        "street-1": emulated_core("street-job", minutes=2),
        "field-1": emulated_core("field-job", minutes=2),
    }
    for media, doc in docs.items():
        await insert_finished_analysis(
            sessionmaker, customer_media_id=media, results={"core": dumps(doc)}
        )
    await drain_backlog(sessionmaker)
    return docs


async def test_first_visit_shows_the_form_only(ui: httpx.AsyncClient) -> None:
    page = await ui.get("/ui/search")

    assert page.status_code == 200
    assert 'id="search-form"' in page.text
    assert 'id="results"' not in page.text
    assert 'id="search-error"' not in page.text
    assert 'aria-current="page">Search' in page.text
    assert "pending issue 14" not in page.text


async def test_a_label_search_lists_matches_with_links_into_the_timeline(
    ui: httpx.AsyncClient, library: dict[str, dict[str, Any]]
) -> None:
    concept = next(
        d for d in library["street-1"]["detections"].values() if d["t"] == "visual.context"
    )
    api = (await ui.get("/v1/search", params={"q": concept["label"]}, headers=AUTH)).json()

    page = await ui.get("/ui/search", params={"q": concept["label"]})

    assert page.status_code == 200
    assert found_media(page.text) == [item["customer_media_id"] for item in api["items"]]
    result = section(page.text, "results")
    times = [unescape(link) for link in re.findall(r'class="match-time" href="([^"]+)"', result)]
    timed = [m for item in api["items"] for m in item["matches"] if m["start"] is not None]
    assert len(times) == len(timed)
    first = timed[0]
    url = urlsplit(times[0])
    window = parse_qs(url.query)
    assert int(window["start"][0]) <= first["start"] < first["end"] <= int(window["end"][0])
    assert float(window["at"][0]) == first["start"]

    opened = await ui.get(times[0])
    assert opened.status_code == 200
    assert '<line class="marker"' in section(opened.text, "zoomed")


async def test_filters_reach_the_search_flow(
    ui: httpx.AsyncClient, library: dict[str, dict[str, Any]]
) -> None:
    harbour = library["harbour-1"]["detections"].values()
    segment = next(d for d in harbour if d["t"] == "audio.speech")
    word = max(re.findall(r"[A-Za-z]{5,}", segment["label"]), key=len)

    by_name = await ui.get("/ui/search", params={"q": "nora exampel"})
    by_face = await ui.get("/ui/search", params={"face": "Nora Example"})
    spoken = await ui.get("/ui/search", params={"q": word, "type": "audio.speech"})
    strict = await ui.get("/ui/search", params={"q": word, "min_confidence": "1"})

    assert found_media(by_name.text) == ["harbour-1"]
    assert found_media(by_face.text) == ["harbour-1"]
    assert "harbour-1" in found_media(spoken.text)
    assert set(re.findall(r'<td class="mono">([^<]+)</td>', spoken.text)) == {"audio.speech"}
    assert unescape(segment["label"]) in unescape(spoken.text)
    # Speech has no confidence: a minimum keeps it (as the API documents).
    assert "harbour-1" in found_media(strict.text)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"q": "car", "min_confidence": "2"}, 422, "min confidence: must be between 0 and 1"),
        ({"q": "car", "min_confidence": "high"}, 422, "min confidence: 'high' is not a number"),
        ({"q": "car", "from": "50", "to": "10"}, 422, "`to` must not be before `from`"),
        ({"type": "visual."}, 422, "Type words to search for, a face, or both."),
        ({"q": "car", "cursor": "made-up.cursor"}, 400, "invalid cursor"),
    ],
)
async def test_refusals_are_shown_on_the_page(
    ui: httpx.AsyncClient, params: dict[str, str], status: int, message: str
) -> None:
    page = await ui.get("/ui/search", params=params)

    assert page.status_code == status
    assert "text/html" in page.headers["content-type"]
    assert message in unescape(section(page.text, "search-error"))
    assert f'value="{params.get("q", "")}"' in page.text  # the form keeps what was typed


async def test_next_page_walks_every_match_once_in_the_apis_order(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    labels: Counter[str] = Counter()
    for n in range(23):
        doc = emulated_core(f"job-{n}", minutes=1)
        labels.update(
            {d["label"] for d in doc["detections"].values() if d["t"] == "visual.context"}
        )
        await insert_finished_analysis(
            sessionmaker, customer_media_id=f"media-{n:02}", results={"core": dumps(doc)}
        )
    await drain_backlog(sessionmaker)
    label, _ = labels.most_common(1)[0]
    search = {"q": label, "type": "visual."}
    expected: list[str] = []
    cursor = None
    while True:
        params = {**search, "limit": 20, **({"cursor": cursor} if cursor else {})}
        api = (await ui.get("/v1/search", params=params, headers=AUTH)).json()
        expected += [item["customer_media_id"] for item in api["items"]]
        cursor = api["next_cursor"]
        if cursor is None:
            break

    seen: list[str] = []
    url: str | None = f"/ui/search?{httpx.QueryParams(search)}"
    pages = []
    while url is not None:
        page = await ui.get(url)
        assert page.status_code == 200
        seen += found_media(page.text)
        pages.append(page.text)
        url = next_page(page.text)

    assert len(expected) > 20
    assert len(pages) == 2
    assert seen == expected
    assert 'href="/ui/search?q=' in pages[1]  # back to the best matches
    # Another search's cursor is refused rather than giving a wrong page.
    cursor_of_page_2 = parse_qs(urlsplit(next_page(pages[0]) or "").query)["cursor"][0]
    other = await ui.get("/ui/search", params={"q": "sky", "cursor": cursor_of_page_2})
    assert other.status_code == 400
