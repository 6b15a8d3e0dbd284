"""POST /v1/analyses/{id}/cancel in every state, with the emulator as Valossa."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from service.analyses.models import Analysis, AnalysisEvent
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from service.settings import Settings
from service.webhooks.models import Webhook
from tests.support.api import api_client
from tests.support.emulator import EmulatorHandle
from tests.support.factories import insert_analysis


async def _status(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> str:
    async with sessionmaker() as session:
        row = await session.get(Analysis, analysis_id)
        assert row is not None
        return row.status


@pytest.mark.parametrize("status", [AnalysisStatus.PENDING, AnalysisStatus.UPLOADING])
async def test_cancel_before_valossa_has_the_job(
    app_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
    status: AnalysisStatus,
) -> None:
    analysis = await insert_analysis(sessionmaker, status=status)
    response = await app_client.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    assert response.json()["finished_at"] is not None
    async with sessionmaker() as session:
        events = (await session.scalars(select(AnalysisEvent))).all()
    assert [(e.from_status, e.to_status, e.actor) for e in events] == [
        (status.value, "canceled", "api")
    ]


async def test_cancel_a_queued_job_cancels_it_at_valossa(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    job_id = await emulator.new_job("media-1")
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    response = await valossa_api.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    assert response.json()["valossa"]["status"] == "canceled"
    assert (await emulator.jobs_by_id())[job_id]["status"] == "canceled"


async def test_cancel_refused_by_valossa_is_409_and_changes_nothing(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    job_id = await emulator.new_job("media-1")
    await emulator.force(job_id, "processing")
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="processing"
    )
    response = await valossa_api.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)

    assert response.status_code == 409, response.text
    problem = response.json()
    assert "Valossa refused to cancel" in problem["detail"]
    assert "processing" in problem["detail"]
    assert problem["valossa_status"] == "processing"
    assert await _status(sessionmaker, analysis.id) == "submitted"
    assert (await emulator.jobs_by_id())[job_id]["status"] == "processing"


async def test_cancel_while_valossa_is_down_is_503_and_changes_nothing(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="job-1", valossa_status="queued"
    )
    response = await app_client.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "retry later" in response.json()["detail"]
    assert "test-valossa-key" not in response.text
    assert await _status(sessionmaker, analysis.id) == "submitted"


async def test_cancel_of_a_job_valossa_no_longer_has_cancels_ours(
    valossa_api: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="gone-job", valossa_status="queued"
    )
    response = await valossa_api.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (AnalysisStatus.SUBMITTING, "being submitted"),
        (AnalysisStatus.FETCHING_RESULTS, "can no longer be canceled"),
        (AnalysisStatus.FINISHED, "already ended (finished)"),
        (AnalysisStatus.FAILED, "already ended (failed)"),
        (AnalysisStatus.CANCELED, "already ended (canceled)"),
    ],
)
async def test_cancel_conflicts(
    app_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
    status: AnalysisStatus,
    words: str,
) -> None:
    analysis = await insert_analysis(sessionmaker, status=status)
    response = await app_client.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)
    assert response.status_code == 409
    assert words in response.json()["detail"]
    assert response.json()["analysis_status"] == status.value
    assert await _status(sessionmaker, analysis.id) == status.value


async def test_cancel_unknown_analysis_is_404(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    response = await app_client.post(f"/v1/analyses/{uuid.uuid4()}/cancel", headers=auth_headers)
    assert response.status_code == 404


async def test_cancel_notifies_the_cms_when_it_has_a_webhook(
    settings: Settings, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    analysis = await insert_analysis(sessionmaker)
    hooked = settings.model_copy(update={"cms_webhook_url": "http://cms.example/hook"})
    async with api_client(hooked) as client:
        response = await client.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)
    assert response.status_code == 200
    async with sessionmaker() as session:
        hooks = (await session.scalars(select(Webhook))).all()
    assert [(h.analysis_id, h.event_type, h.payload["data"]["status"]) for h in hooks] == [
        (analysis.id, "analysis.canceled", "canceled")
    ]


async def test_a_cancel_retried_after_a_lost_answer_is_a_success(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    """The first cancel_job took effect but its answer was lost; the retry hears "current
    state: canceled" as a refusal. That is the cancel having worked, not a 409."""
    job_id = await emulator.new_job("media-1")
    await emulator.valossa.cancel_job(job_id=job_id)  # the attempt whose answer was lost
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    response = await valossa_api.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"


async def test_a_cancel_answered_with_another_status_is_requested_not_final(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    """Valossa documents only `{"job_status": "canceled"}`: any other answer is recorded as a
    requested cancel (202) that the worker follows to the job's end."""
    await emulator.configure(cancel_status="cancelling")
    job_id = await emulator.new_job("media-1")
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="queued"
    )
    response = await valossa_api.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "submitted"
    assert response.json()["cancel_requested_at"] is not None
    async with sessionmaker() as session:
        row = await session.get(Analysis, analysis.id)
        assert row is not None
        assert row.next_attempt_at is not None  # due now: the worker looks at once


@pytest.mark.parametrize("code", [409, 500])
async def test_a_cancel_answered_with_an_undocumented_code_is_requested(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
    code: int,
) -> None:
    """A status code Valossa does not document for cancel_job (even after the client's retries)
    may hide a cancel that took effect: never a 503 to the CMS for it, but a 202."""
    await emulator.configure(cancel_refusal_code=code)
    job_id = await emulator.new_job("media-1")
    await emulator.force(job_id, "processing")
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, job_id=job_id, valossa_status="processing"
    )
    response = await valossa_api.post(f"/v1/analyses/{analysis.id}/cancel", headers=auth_headers)
    assert response.status_code == 202, response.text
    assert response.json()["cancel_requested_at"] is not None
