"""Search and a media's timeline in Debian's Chromium (Playwright), on a real analysis: a face
trained through our API, a video analysed by the emulator through our API and worker, indexed
by the worker. Every page visited is saved as a screenshot in test-artifacts/ui/."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.emulator.media import write_sample_video
from service.process.serving import serve_in_background
from tests.pipeline.conftest import Stack, stack
from tests.search.test_search_pipeline import analyse, indexed, train_face
from tests.support.emulator import EmulatorHandle, running_emulator
from tests.support.waiting import eventually
from tests.ui.conftest import screenshot, signed_in

__all__ = ["stack"]

NAME = "Emilia Example"  # the identity train_face makes
MEDIA = "harbour-film-7"


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[EmulatorHandle]:
    """The emulator with a fast clock: analyses finish in a second or two."""
    async with running_emulator(tmp_path / "emulator", speed=200.0, seed=11) as handle:
        yield handle


@pytest.fixture
async def film_url(tmp_path: Path) -> AsyncIterator[str]:
    """A real 90-second video (small, 5 fps, with sound) served over loopback; its URL."""
    directory = tmp_path / "media"
    directory.mkdir()
    write_sample_video(directory / "film.mp4", duration_s=90, width=160, height=120, fps=5)
    app = Starlette(routes=[Mount("/", app=StaticFiles(directory=directory))])
    async with serve_in_background(app) as server:
        yield f"{server.url}/film.mp4"


@pytest.fixture
async def analysed(stack: Stack, film_url: str) -> dict[str, Any]:
    """The film analysed with the trained face's gallery and indexed; the analysis."""
    gallery_id, _ = await train_face(stack)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        done = await analyse(
            stack,
            {
                "customer_media_id": MEDIA,
                "video_url": film_url,
                "title": "Harbour at dawn",
                "face_gallery_id": gallery_id,
            },
        )
        await eventually(lambda: indexed(stack, MEDIA, done["id"]), within=30)
    return done


async def test_search_then_open_a_medias_summary_and_timeline(
    browser: Any, stack: Stack, analysed: dict[str, Any]
) -> None:
    summary = (await stack.api.get(f"/v1/media/{MEDIA}/summary")).json()
    page = await signed_in(browser, stack.api_url, "/ui/search")

    await page.fill("#q", NAME)
    await page.click("#search-form button[type=submit]")
    await page.wait_for_selector("#results")
    results = page.locator("#results li.result")
    assert await results.count() == 1
    assert await results.first.get_attribute("data-media") == MEDIA
    first_match = results.first.locator("a.match-time").first
    when = await first_match.inner_text()
    assert re.fullmatch(r"\d+:\d\d\.\d\u2013\d+:\d\d\.\d", when), when
    assert NAME in await results.first.inner_text()
    await screenshot(page, "search")

    # A match opens the media page at that moment.
    await first_match.click()
    await page.wait_for_url(f"**/ui/media/{MEDIA}?start=*")
    assert await page.locator("#zoomed line.marker").count() == 1
    faces = page.locator("#faces tbody tr")
    assert NAME in await faces.first.inner_text()  # named faces first
    assert await page.inner_text("#duration") == "1:30"
    labels = await page.locator("#labels tbody tr td:first-child").all_inner_texts()
    assert labels == [label["label"] for label in summary["top_labels"]]
    assert await page.locator(f'#overview g.row[data-label="{NAME}"] rect.bar').count() >= 1
    await page.goto(f"{stack.api_url}/ui/media/{MEDIA}")
    await screenshot(page, "media")

    # Zooming and moving the window, as the timeline API allows.
    await page.click("#zoom-in")
    await page.wait_for_url("**start=15&end=45")
    assert await page.inner_text("#window-title") == "0:15\u20130:45"
    await page.click("#later")
    await page.wait_for_url("**start=45&end=75")
    await page.click("#overview a.segment >> nth=0")
    await page.wait_for_url("**start=0&end=30")
    assert await page.locator("#window-items tbody tr").count() >= 1
    await page.select_option("#timeline-form select[name=type]", "human.face")
    await page.click("#timeline-form button[type=submit]")
    await page.wait_for_url("**type=human.face**")
    await screenshot(page, "media-zoomed")
    await page.click("#window-list summary")
    kinds = await page.locator("#window-items tbody td.mono").all_inner_texts()
    assert kinds
    assert all(kind.startswith("human.face") for kind in kinds)

    # The analysis page links here too.
    await page.goto(f"{stack.api_url}/ui/analyses/{analysed['id']}")
    await page.click("#open-media")
    await page.wait_for_url(f"**/ui/media/{MEDIA}")
    assert analysed["id"] in await page.inner_text("#analysis-link")
