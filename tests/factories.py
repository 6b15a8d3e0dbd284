"""Row factories for tests: plain typed functions with keyword-only overrides."""

from __future__ import annotations

import uuid

from service.analyses.models import Analysis
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
    analysis = Analysis(
        id=uuid.uuid4(),
        customer_media_id=customer_media_id,
        status=status,
        video_url="https://media.example/v.mp4",
        language="en-US",
        result_types=result_types or ["core", "speech_to_text_srt"],
        job_id=job_id,
        **overrides,
    )
    async with sessionmaker() as session, session.begin():
        session.add(analysis)
    return analysis
