"""Row factories for tests: plain typed functions with keyword-only overrides."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from service.analyses import chunks
from service.analyses.models import Analysis, AnalysisEvent, ResultChunk, StoredResult
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker


async def insert_analysis(
    sessionmaker: SessionMaker,
    *,
    customer_media_id: str = "media-1",
    status: AnalysisStatus = AnalysisStatus.PENDING,
    job_id: str | None = None,
    result_types: list[str] | None = None,
    **overrides: object,
) -> Analysis:
    """Insert and commit an analysis row as the worker would have left it."""
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "video_url": "https://media.example/v.mp4",
        "language": "en-US",
        **overrides,
    }
    analysis = Analysis(
        customer_media_id=customer_media_id,
        status=status,
        result_types=result_types or ["core", "speech_to_text_srt"],
        job_id=job_id,
        **fields,
    )
    async with sessionmaker() as session, session.begin():
        session.add(analysis)
    return analysis


async def insert_event(
    sessionmaker: SessionMaker,
    analysis: Analysis,
    *,
    to_status: AnalysisStatus | None = None,
    from_status: AnalysisStatus | None = None,
    reason: str = "test event",
    actor: str = "test",
    valossa_status: str | None = None,
) -> AnalysisEvent:
    """Insert and commit one history event of `analysis`."""
    event = AnalysisEvent(
        analysis_id=analysis.id,
        from_status=from_status,
        to_status=to_status or AnalysisStatus(analysis.status),
        valossa_status=valossa_status,
        reason=reason,
        actor=actor,
    )
    async with sessionmaker() as session, session.begin():
        session.add(event)
    return event


async def insert_finished_analysis(
    sessionmaker: SessionMaker,
    *,
    customer_media_id: str = "media-1",
    results: dict[str, bytes] | None = None,
    absent: dict[str, str] | None = None,
    job_id: str | None = None,
    content_type: str = "application/json",
    **overrides: object,
) -> Analysis:
    """Insert a finished analysis with its stored results (bytes by type) and absent types."""
    results = results if results is not None else {"core": b'{"version_info": {}}'}
    absent = absent or {}
    analysis = Analysis(
        id=uuid.uuid4(),
        customer_media_id=customer_media_id,
        status=AnalysisStatus.FINISHED,
        video_url="https://media.example/v.mp4",
        language="en-US",
        result_types=[*results, *absent],
        job_id=job_id or str(uuid.uuid4()),
        valossa_status="finished",
        finished_at=datetime.now(UTC),
        **overrides,
    )
    async with sessionmaker() as session, session.begin():
        session.add(analysis)
        await session.flush()
        for result_type, data in results.items():
            session.add(
                StoredResult(
                    analysis_id=analysis.id,
                    result_type=result_type,
                    state="stored",
                    content_type=content_type,
                    size_bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
            await session.flush()
            session.add(  # one chunk, as the service writes it
                ResultChunk(
                    analysis_id=analysis.id,
                    result_type=result_type,
                    seq=0,
                    encoding=chunks.LZ4,
                    data=chunks.encode(data),
                )
            )
        for result_type, reason in absent.items():
            session.add(
                StoredResult(
                    analysis_id=analysis.id,
                    result_type=result_type,
                    state="absent",
                    absent_reason=reason,
                )
            )
    return analysis


async def analysis_row(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> Analysis:
    """The analysis as stored now (it must exist)."""
    async with sessionmaker() as session:
        row = await session.get(Analysis, analysis_id)
        assert row is not None
        return row


async def event_reasons(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> list[str]:
    """The reasons of an analysis's events, oldest first ("" where there is none)."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(AnalysisEvent.reason)
            .where(AnalysisEvent.analysis_id == analysis_id)
            .order_by(AnalysisEvent.id)
        )
        return [r or "" for r in rows]
