"""POST /callbacks/valossa/{token}: a valid token makes the analysis due now; nothing else does."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from service.analyses.flows.callback import MAX_WAKEUPS
from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis, AnalysisEvent
from service.analyses.states import AnalysisStatus
from service.analyses.tokens import CallbackTokens
from service.db import SessionMaker
from tests.support.factories import insert_analysis

TOKENS = CallbackTokens("test-signing-secret")  # the secret of the `settings` fixture
LATER = timedelta(hours=1)


async def _state(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> tuple[Analysis, list[str]]:
    async with sessionmaker() as session:
        analysis = await session.get(Analysis, analysis_id)
        assert analysis is not None
        events = await session.scalars(
            select(AnalysisEvent.reason)
            .where(AnalysisEvent.analysis_id == analysis_id)
            .order_by(AnalysisEvent.id)
        )
        return analysis, [e or "" for e in events]


async def _submitted(sessionmaker: SessionMaker) -> Analysis:
    return await insert_analysis(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-1",
        next_attempt_at=utcnow() + LATER,
    )


async def test_valid_callback_makes_the_analysis_due_now_and_notifies(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker, database_url: str
) -> None:
    analysis = await _submitted(sessionmaker)
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as listener:
        await listener.execute("LISTEN valossa_ingest_due")
        response = await app_client.post(
            f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}",
            json={"job_id": "job-1", "status": "finished"},
        )
        notification = await asyncio.wait_for(anext(listener.notifies()), timeout=5)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert notification.channel == "valossa_ingest_due"
    after, reasons = await _state(sessionmaker, analysis.id)
    assert after.status == "submitted"  # the body's status is only a hint
    assert after.next_attempt_at is not None
    assert after.next_attempt_at <= utcnow()
    assert reasons == ["callback received (status hint: finished)"]


@pytest.mark.parametrize(
    "content", [b"not json", b"[1, 2]", b'{"status": 42}', b"", b'{"status": "\\u0000evil"}']
)
async def test_malformed_bodies_are_tolerated(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker, content: bytes
) -> None:
    analysis = await _submitted(sessionmaker)
    response = await app_client.post(
        f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}", content=content
    )
    assert response.status_code == 200
    after, reasons = await _state(sessionmaker, analysis.id)
    assert after.next_attempt_at is not None
    assert after.next_attempt_at <= utcnow()
    assert len(reasons) == 1
    assert reasons[0].isprintable()


async def test_a_replayed_callback_changes_nothing_more(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    """The first callback makes the analysis due; the same callback again finds it due already
    and writes nothing (no event, no new wake-up)."""
    analysis = await _submitted(sessionmaker)
    url = f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}"
    for _ in range(30):
        response = await app_client.post(url, json={"job_id": "job-1", "status": "finished"})
        assert response.status_code == 200
    after, reasons = await _state(sessionmaker, analysis.id)
    assert after.status == "submitted"
    assert reasons == ["callback received (status hint: finished)"]
    assert after.callback_wakeups == 1


async def test_status_checks_caused_by_callbacks_are_bounded(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    """Even when every replay finds the analysis scheduled for later again (as after each
    status check), callbacks wake it at most MAX_WAKEUPS times."""
    analysis = await _submitted(sessionmaker)
    url = f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}"
    for _ in range(MAX_WAKEUPS + 5):
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Analysis)
                .where(Analysis.id == analysis.id)
                .values(next_attempt_at=utcnow() + LATER)
            )
        assert (await app_client.post(url, json={"status": "finished"})).status_code == 200
    after, reasons = await _state(sessionmaker, analysis.id)
    assert after.callback_wakeups == MAX_WAKEUPS
    assert len(reasons) == MAX_WAKEUPS
    assert after.next_attempt_at is not None
    assert after.next_attempt_at > utcnow()


async def test_a_callback_during_a_status_check_is_recorded(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    """A worker is checking (the row is due and leased): the callback is noted in callback_at,
    which tells the worker to check again at once."""
    analysis = await insert_analysis(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="job-1",
        next_attempt_at=utcnow() - timedelta(seconds=1),
        claimed_by="w#1",
        claimed_until=utcnow() + LATER,
    )
    response = await app_client.post(f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}")
    assert response.status_code == 200
    after, reasons = await _state(sessionmaker, analysis.id)
    assert reasons == ["callback received (status hint: unknown)"]
    assert after.callback_at is not None
    assert after.callback_wakeups == 1
    assert after.claimed_by == "w#1"  # the lease is not touched


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        f"{uuid.uuid4().hex}.forged",
        CallbackTokens("another-secret").token_for(uuid.uuid4()),
        "x" * 5000,
    ],
    ids=["malformed", "forged-mac", "other-secret", "huge"],
)
async def test_forged_tokens_get_404_and_change_nothing(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker, token: str
) -> None:
    analysis = await _submitted(sessionmaker)
    response = await app_client.post(f"/callbacks/valossa/{token}", json={"status": "finished"})
    assert response.status_code == 404
    after, reasons = await _state(sessionmaker, analysis.id)
    assert after.next_attempt_at == analysis.next_attempt_at
    assert reasons == []


async def test_token_of_another_secret_for_a_real_analysis_is_404(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    analysis = await _submitted(sessionmaker)
    forged = CallbackTokens("guessed-secret").token_for(analysis.id)
    response = await app_client.post(f"/callbacks/valossa/{forged}", json={})
    assert response.status_code == 404
    assert (await _state(sessionmaker, analysis.id))[1] == []


async def test_valid_token_of_an_unknown_analysis_is_404(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(f"/callbacks/valossa/{TOKENS.token_for(uuid.uuid4())}")
    assert response.status_code == 404


@pytest.mark.parametrize("status", [AnalysisStatus.PENDING, AnalysisStatus.FINISHED])
async def test_callback_for_an_analysis_not_waiting_on_valossa_changes_nothing(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker, status: AnalysisStatus
) -> None:
    analysis = await insert_analysis(sessionmaker, status=status, next_attempt_at=utcnow() + LATER)
    response = await app_client.post(f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}")
    assert response.status_code == 200
    after, reasons = await _state(sessionmaker, analysis.id)
    assert after.next_attempt_at == analysis.next_attempt_at
    assert after.callback_at is None  # no Valossa job: nothing it could announce
    assert reasons == []


async def test_callback_before_the_job_is_recorded_is_noted_but_wakes_nothing_yet(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    """Valossa can end a job before new_job's answer is recorded: the callback is noted (the
    recording then checks at once), but the submitting analysis is not made due by it."""
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTING, next_attempt_at=utcnow() + LATER
    )
    response = await app_client.post(f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}")
    assert response.status_code == 200
    after, reasons = await _state(sessionmaker, analysis.id)
    assert after.next_attempt_at == analysis.next_attempt_at
    assert after.callback_at is not None
    assert reasons == []


async def test_callback_needs_no_bearer_but_limits_its_body(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    analysis = await _submitted(sessionmaker)
    url = f"/callbacks/valossa/{TOKENS.token_for(analysis.id)}"
    response = await app_client.post(url, content=b"{" + b" " * 20_000 + b"}")
    assert response.status_code == 413
    assert (await _state(sessionmaker, analysis.id))[1] == []
