"""Stored result chunks are compressed with lz4 where the server has it, else its default."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import text

from service.analyses.results import CHUNK_BYTES, store_result
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.support.factories import insert_analysis
from tests.support.postgres import server_has_lz4

#: JSON-like and compressible, two and a half chunks.
CORE = b'{"detections": [' + b'{"label": "airplane", "t": 1.25},' * (CHUNK_BYTES // 13) + b"]}"


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 300_000):
        yield data[start : start + 300_000]


async def test_stored_chunks_use_lz4_when_the_server_has_it(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.FINISHED, result_types=["core"]
    )
    async with sessionmaker() as session, session.begin():
        await store_result(
            session, analysis.id, "core", _pieces(CORE), content_type="application/json"
        )
    async with sessionmaker() as session:
        methods = (
            await session.scalars(
                text("SELECT pg_column_compression(data) FROM result_chunks ORDER BY seq")
            )
        ).all()
    assert methods == ["lz4" if server_has_lz4(database_url) else "pglz"] * 3
