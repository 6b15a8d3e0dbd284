"""GET /metrics: live analyses by state, slots in use, overdue work, webhook backlog."""

from __future__ import annotations

from datetime import timedelta

import httpx

from service.analyses.lifecycle import utcnow
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.support.factories import insert_analysis


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in metrics:\n{text}")


async def test_metrics_count_live_work(
    app_client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    await insert_analysis(sessionmaker, status=AnalysisStatus.PENDING)
    await insert_analysis(sessionmaker, status=AnalysisStatus.SUBMITTED, job_id="j1")
    await insert_analysis(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        job_id="j2",
        deadline_at=utcnow() - timedelta(minutes=1),
        next_attempt_at=utcnow() - timedelta(seconds=5),
    )
    await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED, job_id="j3")

    response = await app_client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert _value(text, 'valossa_ingest_analyses{status="pending"}') == 1
    assert _value(text, 'valossa_ingest_analyses{status="submitted"}') == 2
    assert _value(text, 'valossa_ingest_analyses{status="uploading"}') == 0
    assert 'status="finished"' not in text
    assert _value(text, "valossa_ingest_in_flight") == 2
    assert _value(text, "valossa_ingest_in_flight_limit") == 20
    assert _value(text, "valossa_ingest_overdue") == 1
    assert _value(text, "valossa_ingest_due") == 1
    assert _value(text, "valossa_ingest_webhooks_pending") == 0
