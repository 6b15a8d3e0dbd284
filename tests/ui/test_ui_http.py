"""The operator page over HTTP (no browser): sessions, CSRF, headers, lists and actions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from service.settings import Settings
from service.webhooks.models import DeliveryStatus, Webhook
from tests.support.api import api_client
from tests.support.factories import insert_analysis, insert_event, insert_finished_analysis
from tests.ui.conftest import csrf_of, sign_in, status_of


async def test_pages_need_a_session_and_sign_in_leads_back(ui_settings: Settings) -> None:
    async with api_client(ui_settings) as client:
        first = await client.get("/ui/analyses?status=pending")
        assert first.status_code == 303
        assert first.headers["location"] == "/ui/sign-in?next=%2Fui%2Fanalyses%3Fstatus%3Dpending"

        posted = await client.post(f"/ui/analyses/{uuid.uuid4()}/cancel", data={})
        assert posted.status_code == 303
        assert posted.headers["location"] == "/ui/sign-in?next=%2Fui%2Fanalyses"

        wrong = await sign_in(client, token="not-a-token")
        assert wrong.status_code == 401
        assert "That token is not accepted." in wrong.text
        assert "vi_session" not in client.cookies

        signed_in = await sign_in(client)
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/ui" in cookie
        assert "Secure" not in cookie  # plain http here; see the https test
        assert "test-token" not in client.cookies["vi_session"]
        assert (await client.get("/ui/analyses")).status_code == 200


async def test_the_session_cookie_is_secure_over_https(ui_settings: Settings) -> None:
    async with api_client(ui_settings) as client:
        client.base_url = httpx.URL("https://api.test")
        response = await sign_in(client)
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]


async def test_sign_in_without_its_form_cookie_is_refused(ui_settings: Settings) -> None:
    async with api_client(ui_settings) as client:
        response = await client.post(
            "/ui/sign-in", data={"token": "test-token", "nonce": "guessed", "next": "/ui/analyses"}
        )
        assert response.status_code == 403
        assert "vi_session" not in client.cookies


async def test_sign_in_never_redirects_to_another_site(ui_settings: Settings) -> None:
    async with api_client(ui_settings) as client:
        form = await client.get("/ui/sign-in?next=https://evil.example/")
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
        assert nonce is not None
        response = await client.post(
            "/ui/sign-in",
            data={"token": "test-token", "nonce": nonce.group(1), "next": "//evil.example/ui/x"},
        )
        assert response.headers["location"] == "/ui/analyses"


async def test_forged_and_revoked_sessions_are_refused(
    ui: httpx.AsyncClient, ui_settings: Settings
) -> None:
    cookie = ui.cookies["vi_session"]
    payload, _, signature = cookie.partition(".")
    ui.cookies.set("vi_session", f"{payload}.{signature[::-1]}", path="/ui")
    assert (await ui.get("/ui/analyses")).status_code == 303

    # The same signing secret, but the token the session was made with is no longer accepted.
    revoked = Settings(**{**ui_settings.model_dump(), "ingest_api_tokens": "another-token"})
    async with api_client(revoked) as client:
        client.cookies.set("vi_session", cookie, path="/ui")
        assert (await client.get("/ui/analyses")).status_code == 303


async def test_sign_out_ends_the_session(ui: httpx.AsyncClient) -> None:
    page = await ui.get("/ui/analyses")
    response = await ui.post("/ui/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert (await ui.get("/ui/analyses")).status_code == 303


async def test_every_form_needs_the_sessions_csrf_token(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    analysis = await insert_analysis(sessionmaker, status=AnalysisStatus.PENDING)
    url = f"/ui/analyses/{analysis.id}/cancel"

    missing = await ui.post(url, data={})
    forged = await ui.post(url, data={"csrf_token": "x" * 43})
    gallery = await ui.post("/ui/face-galleries", data={"name": "G"})

    assert [missing.status_code, forged.status_code, gallery.status_code] == [403, 403, 403]
    assert "Nothing was changed" in missing.text
    assert await status_of(sessionmaker, analysis.id) == "pending"
    page = await ui.get(f"/ui/analyses/{analysis.id}")
    accepted = await ui.post(url, data={"csrf_token": csrf_of(page.text)})
    assert accepted.status_code == 303
    assert await status_of(sessionmaker, analysis.id) == "canceled"
    assert "Canceled." in (await ui.get(accepted.headers["location"])).text


async def test_security_headers_and_only_local_assets(ui: httpx.AsyncClient) -> None:
    page = await ui.get("/ui/analyses")
    redirect = await ui.get("/ui")
    for response in (page, redirect):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text
    assert " on" + "click=" not in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets
    assert all(a.startswith("/ui") for a in assets), assets
    script = await ui.get("/ui/static/ui.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_list_pages_through_every_analysis_once(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for n in range(120):
        row = await insert_analysis(
            sessionmaker, customer_media_id=f"m-{n:03}", created_at=base + timedelta(minutes=n)
        )
        ids.append(row.id)
    seen: list[str] = []
    url: str | None = "/ui/analyses"
    pages = 0
    while url is not None:
        page = await ui.get(url)
        assert page.status_code == 200
        seen += re.findall(r'href="/ui/analyses/([0-9a-f-]{36})"', page.text)
        found = re.search(r'id="next-page" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 3
    assert seen == [str(i) for i in reversed(ids)]


async def test_filters_and_gauges(ui: httpx.AsyncClient, sessionmaker: SessionMaker) -> None:
    late = await insert_analysis(
        sessionmaker,
        customer_media_id="late-1",
        status=AnalysisStatus.SUBMITTED,
        job_id="job-late",
        deadline_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    await insert_analysis(sessionmaker, customer_media_id="waiting-1")
    await insert_analysis(sessionmaker, customer_media_id="waiting-2")
    done = await insert_finished_analysis(sessionmaker, customer_media_id="done-1")
    async with sessionmaker() as session, session.begin():
        session.add(Webhook(analysis_id=late.id, event_type="analysis.failed", payload={}))
        gone = datetime.now(UTC) - timedelta(days=1)
        session.add(
            Webhook(
                analysis_id=done.id,
                event_type="analysis.finished",
                payload={},
                status=DeliveryStatus.FAILED,
                gave_up_at=gone,
            )
        )
        delivered = datetime.now(UTC)
        session.add(
            Webhook(
                analysis_id=done.id,
                event_type="x",
                payload={},
                status=DeliveryStatus.DELIVERED,
                delivered_at=delivered,
            )
        )

    everything = await ui.get("/ui/analyses")
    pending = await ui.get("/ui/analyses?status=pending")
    overdue = await ui.get("/ui/analyses?overdue=true")
    by_media = await ui.get("/ui/analyses?customer_media_id=done-1")
    unknown = await ui.get("/ui/analyses?status=nonsense")

    gauges = re.sub(r"\s+", " ", everything.text)
    assert '<span class="value">1 / 20</span><span class="label">Valossa slots in use' in gauges
    assert '<span class="value">2</span><span class="label">backlog (pending)' in gauges
    assert '<span class="value">1</span><span class="label">overdue' in gauges
    assert (
        '<span class="value">1</span><span class="label">webhooks to deliver · 1 failed' in gauges
    )
    assert set(re.findall(r">((?:late|waiting|done)-\d)<", pending.text)) == {
        "waiting-1",
        "waiting-2",
    }
    assert re.findall(r">((?:late|waiting|done)-\d)<", overdue.text) == ["late-1"]
    assert "badge-overdue" in overdue.text
    assert re.findall(r">((?:late|waiting|done)-\d)<", by_media.text) == ["done-1"]
    assert unknown.status_code == 400
    assert "unknown status" in unknown.text


async def test_one_analysis_with_history_results_and_download(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    core = b'{"version_info": {"metadata_format": "1.8.3"}}'
    analysis = await insert_finished_analysis(
        sessionmaker,
        customer_media_id="film/42",
        results={"core": core},
        absent={"speech_to_text_srt": "no speech"},
    )
    await insert_event(
        sessionmaker,
        analysis,
        from_status=AnalysisStatus.FETCHING_RESULTS,
        reason="every result stored",
        actor="worker-1",
    )
    async with sessionmaker() as session, session.begin():
        session.add(
            Webhook(
                analysis_id=analysis.id,
                event_type="analysis.finished",
                payload={},
                attempts=2,
                last_error="HTTP 502",
                status=DeliveryStatus.DELIVERED,
                delivered_at=datetime.now(UTC),
            )
        )

    page = await ui.get(f"/ui/analyses/{analysis.id}")

    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert analysis.job_id is not None
    assert analysis.job_id in text
    assert "fetching_results → finished" in text
    assert "every result stored" in text
    assert "by worker-1" in text
    assert "absent — no speech" in text
    assert "analysis.finished" in text
    assert "HTTP 502" in text
    assert "delivered" in text
    assert 'id="cancel"' not in text  # a finished analysis cannot be canceled
    # Its core document is not a searchable one yet: the page says so instead of linking.
    assert "finished but not indexed yet" in text
    assert 'id="open-media"' not in text
    download = await ui.get(f"/ui/analyses/{analysis.id}/results/core")
    assert download.status_code == 200
    assert download.content == core
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"film_42-core.json\"; filename*=UTF-8''film_42-core.json"
    )
    assert (
        await ui.get(f"/ui/analyses/{analysis.id}/results/speech_to_text_srt")
    ).status_code == 404
    missing = await ui.get(f"/ui/analyses/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


async def test_reanalyse_makes_one_new_analysis_per_form(
    ui: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    analysis = await insert_finished_analysis(sessionmaker, customer_media_id="again-1")
    page = await ui.get(f"/ui/analyses/{analysis.id}")
    key = re.search(r'name="request_key" value="([^"]+)"', page.text)
    assert key is not None
    form = {"csrf_token": csrf_of(page.text), "request_key": key.group(1)}

    first = await ui.post(f"/ui/analyses/{analysis.id}/reanalyse", data=form)
    again = await ui.post(f"/ui/analyses/{analysis.id}/reanalyse", data=form)

    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(Analysis.customer_media_id == "again-1")
        )
        newest = await session.scalar(
            select(Analysis)
            .where(Analysis.customer_media_id == "again-1")
            .order_by(Analysis.created_at.desc())
        )
    assert count == 2
    assert newest is not None
    assert newest.status == "pending"
    assert first.headers["location"] == f"/ui/analyses/{newest.id}"


@pytest.mark.parametrize("path", ["/ui/face-galleries", "/ui/face-galleries/default"])
async def test_gallery_pages_render_without_galleries(ui: httpx.AsyncClient, path: str) -> None:
    response = await ui.get(path)
    assert response.status_code == 200
    assert csrf_of(response.text)
