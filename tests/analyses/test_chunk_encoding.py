"""Stored result chunks are LZ4 blocks written by us and stored as they are; chunks written
before migration 0009 (the bytes as they are) are still served, alone or mixed with them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, text

from service.analyses import chunks, results
from service.analyses.models import ResultChunk, StoredResult
from service.analyses.results import CHUNK_BYTES, STORED, ResultBody, store_result, stream_result
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.support.factories import insert_analysis

#: JSON-like and compressible, two and a half chunks.
CORE = b'{"detections": [' + b'{"label": "airplane", "t": 1.25},' * (CHUNK_BYTES // 13) + b"]}"


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 300_000):
        yield data[start : start + 300_000]


@pytest.mark.parametrize(
    "data",
    [b"", b"{}", CORE[:CHUNK_BYTES], os.urandom(CHUNK_BYTES)],
    ids=["empty", "tiny", "a full chunk", "incompressible"],
)
def test_a_block_holds_exactly_its_bytes_and_says_how_many(data: bytes) -> None:
    block = chunks.encode(data)
    assert chunks.decode(chunks.LZ4, block) == data
    assert chunks.size_of(chunks.LZ4, block) == len(data)
    assert chunks.decode(chunks.IDENTITY, data) == data
    assert chunks.size_of(chunks.IDENTITY, data) == len(data)


def test_compressible_bytes_are_stored_smaller() -> None:
    assert len(chunks.encode(CORE[:CHUNK_BYTES])) < CHUNK_BYTES // 4


def test_an_unknown_encoding_or_a_damaged_block_is_an_error_not_bytes_served() -> None:
    with pytest.raises(chunks.UnreadableChunk, match="unknown encoding 'zstd'"):
        chunks.decode("zstd", b"\x00")
    with pytest.raises(chunks.UnreadableChunk, match="unknown encoding 'zstd'"):
        chunks.size_of("zstd", b"\x00")
    block = chunks.encode(CORE[:CHUNK_BYTES])
    damaged = block[:4] + b"\xff" * 8 + block[12:]
    with pytest.raises(chunks.UnreadableChunk, match="not an LZ4 block"):
        chunks.decode(chunks.LZ4, damaged)


async def test_stored_chunks_are_lz4_blocks_that_postgres_keeps_as_they_are(
    sessionmaker: SessionMaker,
) -> None:
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.FINISHED, result_types=["core"]
    )
    async with sessionmaker() as session, session.begin():
        await store_result(
            session, analysis.id, "core", _pieces(CORE), content_type="application/json"
        )
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT encoding, data, pg_column_compression(data) FROM result_chunks"
                    " ORDER BY seq"
                )
            )
        ).all()
        storage = await session.scalar(
            text(
                "SELECT attstorage FROM pg_attribute"
                " WHERE attrelid = 'result_chunks'::regclass AND attname = 'data'"
            )
        )
    assert [encoding for encoding, _, _ in rows] == [chunks.LZ4] * 3
    # Not compressed again by Postgres: reading a block costs it no decompression.
    assert [compression for _, _, compression in rows] == [None] * 3
    assert storage == "e"  # EXTERNAL
    assert sum(len(data) for _, data, _ in rows) < len(CORE) // 4
    assert b"".join(chunks.decode(encoding, data) for encoding, data, _ in rows) == CORE


async def _store_chunks(
    sessionmaker: SessionMaker, data: bytes, encodings: list[str]
) -> ResultBody:
    """`data` stored in chunks of CHUNK_BYTES, the chunk `seq` in `encodings[seq]`."""
    analysis = await insert_analysis(
        sessionmaker, status=AnalysisStatus.FINISHED, result_types=["core"]
    )
    sha256 = hashlib.sha256(data).hexdigest()
    async with sessionmaker() as session, session.begin():
        session.add(
            StoredResult(
                analysis_id=analysis.id,
                result_type="core",
                state=STORED,
                content_type="application/json",
                size_bytes=len(data),
                sha256=sha256,
            )
        )
        await session.flush()
        for seq, encoding in enumerate(encodings):
            piece = data[seq * CHUNK_BYTES : (seq + 1) * CHUNK_BYTES]
            stored = chunks.encode(piece) if encoding == chunks.LZ4 else piece
            await session.execute(
                insert(ResultChunk).values(
                    analysis_id=analysis.id,
                    result_type="core",
                    seq=seq,
                    encoding=encoding,
                    data=stored,
                )
            )
    return ResultBody(analysis.id, "core", "application/json", len(data), sha256)


@pytest.mark.parametrize(
    "encodings",
    [
        [chunks.IDENTITY] * 3,
        [chunks.IDENTITY, chunks.LZ4, chunks.IDENTITY],
        [chunks.LZ4, chunks.IDENTITY, chunks.LZ4],
    ],
    ids=["written before 0009", "mixed", "mixed the other way"],
)
async def test_chunks_of_either_encoding_are_served_byte_identical(
    sessionmaker: SessionMaker, encodings: list[str]
) -> None:
    body = await _store_chunks(sessionmaker, CORE, encodings)
    served = [bytes(piece) async for piece in stream_result(sessionmaker, body)]
    assert b"".join(served) == CORE
    assert [len(piece) for piece in served] == [CHUNK_BYTES, CHUNK_BYTES, len(CORE) % CHUNK_BYTES]


async def test_a_query_asks_for_about_the_same_bytes_whatever_the_chunks_hold(
    sessionmaker: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first batch, the next asks for as many chunks as SERVE_BATCH_BYTES holds at
    their stored size: chunks stored as they are (1 MiB each) two at a time, LZ4 blocks of
    JSON (a few KB each) as many as MAX_BATCH_CHUNKS allows."""
    monkeypatch.setattr(results, "SERVE_BATCH_BYTES", 2 * CHUNK_BYTES)
    monkeypatch.setattr(results, "FIRST_BATCH_CHUNKS", 1)
    monkeypatch.setattr(results, "MAX_BATCH_CHUNKS", 4)
    asked: list[tuple[int, int]] = []
    read_batch = results.read_batch

    async def recorded(
        sessionmaker: SessionMaker, body: ResultBody, first_seq: int, count: int
    ) -> list[tuple[str, bytes]]:
        asked.append((first_seq, count))
        return await read_batch(sessionmaker, body, first_seq, count)

    monkeypatch.setattr(results, "read_batch", recorded)
    data = CORE * 3  # seven and a half chunks
    for encodings, expected in [
        ([chunks.IDENTITY] * 8, [(0, 1), (1, 2), (3, 2), (5, 2), (7, 2)]),
        ([chunks.LZ4] * 8, [(0, 1), (1, 4), (5, 4)]),
    ]:
        asked.clear()
        body = await _store_chunks(sessionmaker, data, encodings)
        served = b"".join([bytes(piece) async for piece in stream_result(sessionmaker, body)])
        assert served == data
        assert asked == expected


async def test_a_damaged_chunk_ends_the_download_with_an_error_naming_it(
    sessionmaker: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """The bytes before it are served; then the stream raises (the server closes the
    connection short of Content-Length) and the log names the result and the chunk."""
    body = await _store_chunks(sessionmaker, CORE, [chunks.LZ4] * 3)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "UPDATE result_chunks SET data = substring(data from 1 for 4)"
                " || '\\xffffffffffffffff'::bytea || substring(data from 13)"
                " WHERE analysis_id = :id AND seq = 1"
            ),
            {"id": body.analysis_id},
        )
    stream = stream_result(sessionmaker, body)
    assert await anext(stream) == CORE[:CHUNK_BYTES]
    with pytest.raises(chunks.UnreadableChunk):
        await anext(stream)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"stored core of analysis {body.analysis_id}: chunk 1 cannot be read (not an LZ4 block"
        f" (Decompression failed. Input invalid or too long?)); its download ends at"
        f" {CHUNK_BYTES} of {len(CORE)} bytes"
    ]


def _claiming(block: bytes, size: int) -> bytes:
    """`block` with its size prefix replaced: it still decompresses, to fewer bytes."""
    return size.to_bytes(4, "little") + block[4:]


def test_a_block_that_holds_fewer_bytes_than_it_says_is_unreadable() -> None:
    """LZ4 decompresses such a block without complaint (the prefix only sizes its buffer), but
    the stream plans its reads on the prefix (size_of): the two must agree."""
    block = _claiming(chunks.encode(CORE[:CHUNK_BYTES]), 3 * CHUNK_BYTES)
    assert chunks.size_of(chunks.LZ4, block) == 3 * CHUNK_BYTES
    with pytest.raises(chunks.UnreadableChunk, match=f"{CHUNK_BYTES} bytes, not {3 * CHUNK_BYTES}"):
        chunks.decode(chunks.LZ4, block)


async def _damage(sessionmaker: SessionMaker, body: ResultBody, sql: str) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(text(sql), {"id": body.analysis_id})


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (  # the prefix says the result ends there: no batch is read after it
            "UPDATE result_chunks SET data = '\\xffffff00'::bytea || substring(data from 5)"
            " WHERE analysis_id = :id AND seq = 0",
            "chunk 0 cannot be read",
        ),
        ("DELETE FROM result_chunks WHERE analysis_id = :id AND seq = 1", "ends at"),
        (
            "UPDATE stored_results SET size_bytes = size_bytes - 1 WHERE analysis_id = :id",
            "holds more than its",
        ),
    ],
    ids=["a chunk holding fewer bytes than it says", "a chunk missing", "a chunk too many bytes"],
)
async def test_a_result_whose_chunks_do_not_hold_its_size_ends_with_an_error(
    sessionmaker: SessionMaker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: str,
    error: str,
) -> None:
    """Not a shorter or longer stream that ends as if whole: served gzipped (no
    Content-Length), that would be a complete gzip stream of other bytes than the result's."""
    monkeypatch.setattr(results, "FIRST_BATCH_CHUNKS", 1)
    body = await _store_chunks(sessionmaker, CORE, [chunks.LZ4] * 3)
    await _damage(sessionmaker, body, damage)
    async with sessionmaker() as session:
        size = await session.scalar(
            text("SELECT size_bytes FROM stored_results WHERE analysis_id = :id"),
            {"id": body.analysis_id},
        )
    body = ResultBody(body.analysis_id, "core", "application/json", size, body.sha256)
    served: list[int] = []

    async def serve() -> None:
        async for piece in stream_result(sessionmaker, body):
            served.append(len(piece))

    with pytest.raises((chunks.UnreadableChunk, results.DamagedResult)):
        await serve()
    assert sum(served) < size
    [logged] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error in logged


async def test_a_query_asks_for_about_serve_batch_bytes_when_the_chunks_stop_compressing(
    sessionmaker: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query's count is guessed from the batch before; the chunks after a run of very
    compressible ones (padding, a repeated header) can be stored at full size: the query
    still brings about SERVE_BATCH_BYTES, not MAX_BATCH_CHUNKS whole chunks."""
    monkeypatch.setattr(results, "SERVE_BATCH_BYTES", 2 * CHUNK_BYTES)
    monkeypatch.setattr(results, "FIRST_BATCH_CHUNKS", 2)
    monkeypatch.setattr(results, "MAX_BATCH_CHUNKS", 8)
    stored: list[int] = []
    read_batch = results.read_batch

    async def recorded(
        sessionmaker: SessionMaker, body: ResultBody, first_seq: int, count: int
    ) -> list[tuple[str, bytes]]:
        batch = await read_batch(sessionmaker, body, first_seq, count)
        stored.append(sum(len(data) for _, data in batch))
        return batch

    monkeypatch.setattr(results, "read_batch", recorded)
    data = b" " * (2 * CHUNK_BYTES) + os.urandom(8 * CHUNK_BYTES)
    body = await _store_chunks(sessionmaker, data, [chunks.LZ4] * 10)
    served = b"".join([bytes(piece) async for piece in stream_result(sessionmaker, body)])
    assert served == data
    # At most the budget and the one chunk that crosses it (LZ4 adds a little to random bytes).
    assert max(stored) <= 2 * CHUNK_BYTES + CHUNK_BYTES * 101 // 100
