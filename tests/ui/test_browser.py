"""The operator page in Debian's Chromium (Playwright): sign in, list, open, cancel, galleries,
and a forged form refused. Every page visited is saved as a screenshot in test-artifacts/ui/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.support.emulator import EmulatorHandle
from tests.support.factories import insert_analysis, insert_event, insert_finished_analysis
from tests.support.images import face_png
from tests.ui.conftest import screenshot, signed_in, status_of


async def _some_analyses(sessionmaker: SessionMaker) -> Analysis:
    now = datetime.now(UTC)
    await insert_finished_analysis(
        sessionmaker,
        customer_media_id="trailer-7",
        results={"core": b'{"version_info": {}}' * 400},
        absent={"speech_to_text_srt": "no speech in the video"},
    )
    await insert_analysis(sessionmaker, customer_media_id="episode-12")
    await insert_analysis(
        sessionmaker,
        customer_media_id="late-night-show",
        status=AnalysisStatus.SUBMITTED,
        job_id=str(uuid.uuid4()),
        valossa_status="processing",
        deadline_at=now - timedelta(minutes=3),
    )
    film = await insert_analysis(
        sessionmaker,
        customer_media_id="feature-film-42",
        status=AnalysisStatus.SUBMITTED,
        job_id="b1946ac9-2492-4f6e-b8d3-0d36bbd8bd6f",
        valossa_status="queued",
        title="Feature film",
    )
    await insert_event(sessionmaker, film, to_status=AnalysisStatus.PENDING, reason="requested")
    await insert_event(
        sessionmaker,
        film,
        from_status=AnalysisStatus.PENDING,
        to_status=AnalysisStatus.SUBMITTED,
        valossa_status="queued",
        reason="new_job accepted",
        actor="worker-a",
    )
    return film


async def test_sign_in_list_filter_and_open_an_analysis(
    browser: Any, served_ui: str, sessionmaker: SessionMaker
) -> None:
    film = await _some_analyses(sessionmaker)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(served_ui + "/ui/analyses")
    await screenshot(page, "sign-in")
    await page.fill("#token", "not-a-token")
    await page.click("form[action='/ui/sign-in'] button[type=submit]")
    assert "That token is not accepted." in await page.inner_text("main")
    await page.fill("#token", "test-token")
    await page.click("form[action='/ui/sign-in'] button[type=submit]")
    await page.wait_for_url("**/ui/analyses")

    assert await page.locator("#analyses tbody tr").count() == 4
    assert "2 / 20" in await page.inner_text("#gauge-slots")
    assert "1" in await page.inner_text("#gauge-overdue")
    await screenshot(page, "analyses")

    await page.select_option("select[name=status]", "pending")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**status=pending**")
    rows = page.locator("#analyses tbody tr")
    assert await rows.count() == 1
    assert "episode-12" in await rows.first.inner_text()

    await page.goto(served_ui + "/ui/analyses")
    await page.click("text=feature-film-42")
    await page.wait_for_url(f"**/ui/analyses/{film.id}")
    assert await page.inner_text("#job-id") == film.job_id
    assert await page.inner_text("#valossa-status") == "queued"
    assert "new_job accepted" in await page.inner_text("#events")
    await screenshot(page, "analysis")
    await context.close()


async def test_cancel_an_analysis(
    browser: Any, served_ui: str, sessionmaker: SessionMaker, emulator: EmulatorHandle
) -> None:
    job_id = await emulator.new_job("to-cancel")
    analysis = await insert_analysis(
        sessionmaker,
        customer_media_id="to-cancel",
        status=AnalysisStatus.SUBMITTED,
        job_id=job_id,
        valossa_status="queued",
    )
    page = await signed_in(browser, served_ui, f"/ui/analyses/{analysis.id}")

    await page.click("#cancel")

    await page.wait_for_selector("text=Canceled.")
    assert await page.inner_text("#status") == "canceled"
    assert await status_of(sessionmaker, analysis.id) == "canceled"
    assert (await emulator.jobs_by_id())[job_id]["status"] == "canceled"
    assert await page.locator("#cancel").count() == 0
    await screenshot(page, "analysis-canceled")


async def test_re_analyse_opens_the_new_analysis(
    browser: Any, served_ui: str, sessionmaker: SessionMaker
) -> None:
    analysis = await insert_finished_analysis(sessionmaker, customer_media_id="again-2")
    page = await signed_in(browser, served_ui, f"/ui/analyses/{analysis.id}")

    await page.click("#reanalyse")

    await page.wait_for_selector("text=A new analysis of this media was created.")
    async with sessionmaker() as session:
        rows = list(await session.scalars(select(Analysis).order_by(Analysis.created_at)))
    assert [(r.customer_media_id, r.status) for r in rows] == [
        ("again-2", "finished"),
        ("again-2", "pending"),
    ]
    assert page.url.endswith(f"/ui/analyses/{rows[1].id}")


async def test_face_galleries_faces_and_images(
    browser: Any,
    served_ui: str,
    emulator: EmulatorHandle,
    tmp_path: Path,
) -> None:
    image = tmp_path / "ada-front.png"
    image.write_bytes(face_png(320, 240))
    page = await signed_in(browser, served_ui, "/ui/face-galleries")

    await page.fill("#gallery-name", "Season 2 cast")
    await page.click("#new-gallery button[type=submit]")
    await page.wait_for_selector("text=Gallery created.")
    await page.fill("#face-name", "Ada Example")
    await page.select_option("#face-gender", "female")
    await page.click("#new-face button[type=submit]")
    await page.wait_for_selector("text=Face added.")
    face = page.locator("article.face").first
    face_id = await face.get_attribute("data-face-id")
    await face.locator("input[type=file]").set_input_files(str(image))
    await face.locator("button[type=submit]").click()

    await page.wait_for_selector("text=Image added.")
    assert "ada-front.png · 320\u00d7240" in await page.inner_text("#faces")
    assert face_id is not None
    at_valossa = await emulator.valossa.list_face_images(face_id=face_id)
    assert len(at_valossa.face_images) == 1
    await screenshot(page, "gallery")

    await page.goto(served_ui + "/ui/face-galleries")
    assert "Season 2 cast" in await page.inner_text("#galleries")
    await screenshot(page, "galleries")


async def test_a_form_without_the_sessions_csrf_token_is_refused(
    browser: Any, served_ui: str, sessionmaker: SessionMaker
) -> None:
    analysis = await insert_analysis(sessionmaker, customer_media_id="keep-me")
    page = await signed_in(browser, served_ui, f"/ui/analyses/{analysis.id}")
    cookies = await page.context.cookies()
    session = next(c for c in cookies if c["name"] == "vi_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"

    # A tampered form, as a page on another site would have to send it.
    await page.locator("form[action$='/cancel'] input[name=csrf_token]").evaluate(
        "input => { input.value = 'forged' }"
    )
    await page.click("#cancel")

    await page.wait_for_selector("text=Form refused")
    await screenshot(page, "csrf-refused")
    assert await status_of(sessionmaker, analysis.id) == "pending"
