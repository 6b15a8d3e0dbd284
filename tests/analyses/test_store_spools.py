"""store_spools: fetched results go in as store_result and record_absent write them, in a few
statements (the records in one, small results' chunks in one)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import ijson
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses.chunks import LZ4, decode
from service.analyses.models import ResultChunk, StoredResult
from service.analyses.results import CHUNK_BYTES, Spool, record_absent, store_result, store_spools
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.support.factories import insert_analysis

#: Two and a half chunks, naming its format near the start.
CORE = (
    b'{"version_info": {"metadata_format": "1.8.2"}, "pad": "'
    + b"x" * (CHUNK_BYTES * 5 // 2)
    + b'"}'
)
SRT = b"1\n00:00:00,000 --> 00:00:01,000\nhello\n"
RESULTS = {"core": CORE, "speech_to_text_srt": SRT, "speech_to_text_vtt": b""}
CONTENT_TYPES = {
    "core": "application/json",
    "speech_to_text_srt": "application/x-subrip; charset=utf-8",
    "speech_to_text_vtt": "text/vtt; charset=utf-8",
}
ABSENT = {"speech_to_text_ttml": "the core metadata shows no speech"}


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 300_000):
        yield data[start : start + 300_000]


async def _spools() -> list[Spool]:
    spools = []
    for result_type, data in RESULTS.items():
        spool = Spool(result_type, CONTENT_TYPES[result_type])
        await spool.fill(_pieces(data))
        spools.append(spool)
    return spools


async def _stored(
    sessionmaker: SessionMaker, analysis_id: uuid.UUID
) -> tuple[dict[str, tuple[Any, ...]], dict[str, list[tuple[int, bytes]]]]:
    """Each type's record (all but its time) and its chunks, in order."""
    async with sessionmaker() as session:
        records = await session.scalars(
            select(StoredResult).where(StoredResult.analysis_id == analysis_id)
        )
        chunks = await session.scalars(
            select(ResultChunk)
            .where(ResultChunk.analysis_id == analysis_id)
            .order_by(ResultChunk.result_type, ResultChunk.seq)
        )
        found: dict[str, list[tuple[int, bytes]]] = {}
        for chunk in chunks:
            assert chunk.encoding == LZ4, chunk.encoding  # every chunk written now
            found.setdefault(chunk.result_type, []).append((chunk.seq, decode(LZ4, chunk.data)))
        return {
            r.result_type: (
                r.state,
                r.content_type,
                r.size_bytes,
                r.sha256,
                r.metadata_format,
                r.absent_reason,
            )
            for r in records
        }, found


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_spools_are_stored_as_store_result_and_record_absent_store_them(
    sessionmaker: SessionMaker,
) -> None:
    one = await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED)
    other = await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED)
    async with sessionmaker() as session, session.begin():
        for result_type, data in RESULTS.items():
            await store_result(
                session, one.id, result_type, _pieces(data), content_type=CONTENT_TYPES[result_type]
            )
        for result_type, reason in ABSENT.items():
            record_absent(session, one.id, result_type, reason)
    spools = await _spools()
    async with sessionmaker() as session, session.begin():
        await store_spools(session, other.id, spools, ABSENT)
    expected = await _stored(sessionmaker, one.id)
    assert await _stored(sessionmaker, other.id) == expected
    records, chunks = expected
    assert records["core"][4] == "1.8.2"
    assert [seq for seq, _ in chunks["core"]] == [0, 1, 2]
    assert chunks["speech_to_text_vtt"] == [(0, b"")]


async def test_small_results_share_one_insert_and_large_ones_take_one_per_chunk(
    sessionmaker: SessionMaker, engine: AsyncEngine
) -> None:
    analysis = await insert_analysis(sessionmaker, status=AnalysisStatus.FINISHED)
    spools = await _spools()
    with _statements(engine) as seen:
        async with sessionmaker() as session, session.begin():
            await store_spools(session, analysis.id, spools, ABSENT)
    inserts = [s.split("(")[0].strip() for s in seen if s.startswith("INSERT")]
    # The records in one; core's three chunks in three (a MiB each at most in memory), and
    # the last of them carries the SRT and the empty VTT with it.
    assert inserts == ["INSERT INTO stored_results"] + ["INSERT INTO result_chunks"] * 3


async def test_a_core_is_read_for_speech_once_however_often_it_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fetch_results asks once per transcript type (four by default); a core of tens of MB is
    parsed once."""
    parsed = 0
    parse = ijson.parse

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal parsed
        parsed += 1
        return parse(*args, **kwargs)

    monkeypatch.setattr(ijson, "parse", counted)
    speaking, silent = Spool("core", "application/json"), Spool("core", "application/json")
    await speaking.fill(_pieces(b'{"detections": {"1": {"t": "audio.speech"}}}'))
    await silent.fill(_pieces(b'{"detections": {"1": {"t": "visual.context"}}}'))
    assert [speaking.shows_speech() for _ in range(4)] == [True] * 4
    assert [silent.shows_speech() for _ in range(4)] == [False] * 4
    assert parsed == 2
