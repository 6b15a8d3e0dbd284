"""DELETE /v1/media/{id}: Valossa jobs deleted (recorded and orphaned), our rows erased."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import func, select

from service.analyses.models import Analysis, AnalysisEvent, ResultChunk, StoredResult
from service.analyses.results import store_result
from service.analyses.states import AnalysisStatus
from service.analyses.valossa_jobs import valossa_media_id
from service.db import SessionMaker
from tests.support.emulator import EmulatorHandle
from tests.support.factories import insert_analysis


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _rows(sessionmaker: SessionMaker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            model.__tablename__: int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in (Analysis, AnalysisEvent, StoredResult, ResultChunk)
        }


async def test_delete_erases_valossa_jobs_and_our_rows(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    finished_job = await emulator.new_job("media-1")
    running_id = uuid.uuid4()
    # An attempt of ours whose answer was lost (attempt 1); attempt 2 created the job recorded.
    orphan_job = await emulator.new_job(valossa_media_id("media-1", running_id, 1))
    running_job = await emulator.new_job(valossa_media_id("media-1", running_id, 2))
    # A job made for the same media outside this service: not ours to delete.
    foreign_job = await emulator.new_job("media-1")
    other_job = await emulator.new_job("media-2")
    finished = await insert_analysis(
        sessionmaker, status=AnalysisStatus.FINISHED, job_id=finished_job
    )
    await insert_analysis(
        sessionmaker,
        id=running_id,
        status=AnalysisStatus.SUBMITTED,
        job_id=running_job,
        submit_attempts=2,
    )
    await insert_analysis(sessionmaker, status=AnalysisStatus.PENDING)
    kept = await insert_analysis(sessionmaker, customer_media_id="media-2", job_id=other_job)
    async with sessionmaker() as session, session.begin():
        await store_result(
            session, finished.id, "core", _one(b"{}"), content_type="application/json"
        )
        session.add(AnalysisEvent(analysis_id=finished.id, to_status="finished", actor="w"))

    response = await valossa_api.delete("/v1/media/media-1", headers=auth_headers)

    assert response.status_code == 204, response.text
    assert set(await emulator.jobs_by_id()) == {other_job, foreign_job}
    assert orphan_job not in await emulator.jobs_by_id()
    assert await _rows(sessionmaker) == {
        "analyses": 1,
        "analysis_events": 0,
        "stored_results": 0,
        "result_chunks": 0,
    }
    async with sessionmaker() as session:
        assert await session.get(Analysis, kept.id) is not None
    gone = await valossa_api.get("/v1/media/media-1", headers=auth_headers)
    assert gone.status_code == 404


async def test_delete_is_idempotent(
    valossa_api: httpx.AsyncClient,
    emulator: EmulatorHandle,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
) -> None:
    job_id = await emulator.new_job("media-1")
    await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED, job_id=job_id)
    for _ in range(2):
        response = await valossa_api.delete("/v1/media/media-1", headers=auth_headers)
        assert response.status_code == 204
    unknown = await valossa_api.delete("/v1/media/never-seen", headers=auth_headers)
    assert unknown.status_code == 204
    assert await emulator.jobs_by_id() == {}


async def test_delete_of_a_job_valossa_already_forgot(
    valossa_api: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED, job_id="long-gone")
    response = await valossa_api.delete("/v1/media/media-1", headers=auth_headers)
    assert response.status_code == 204
    assert (await _rows(sessionmaker))["analyses"] == 0


async def test_delete_while_valossa_is_down_is_503_and_keeps_everything(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED, job_id="job-1")
    response = await app_client.delete("/v1/media/media-1", headers=auth_headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "nothing of ours was deleted" in response.json()["detail"]
    assert (await _rows(sessionmaker))["analyses"] == 1


async def test_delete_during_submission_is_409(
    valossa_api: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await insert_analysis(sessionmaker, status=AnalysisStatus.SUBMITTING)
    response = await valossa_api.delete("/v1/media/media-1", headers=auth_headers)
    assert response.status_code == 409
    assert "being submitted" in response.json()["detail"]
    assert (await _rows(sessionmaker))["analyses"] == 1
