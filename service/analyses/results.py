"""Stored results: streamed into chunk rows as Valossa sends them, streamed back byte-identical."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import tempfile
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

import anyio
import ijson
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import chunks
from service.analyses.models import ResultChunk, StoredResult
from service.db import SessionMaker, table_of
from service.valossa import ResultType

log = logging.getLogger(__name__)

#: Size of one stored chunk: large enough for few rows, small enough to keep memory flat.
CHUNK_BYTES = 1024 * 1024

STORED = "stored"
ABSENT = "absent"

#: Content types we serve per result type (Valossa's own header is kept when it sends one).
DEFAULT_CONTENT_TYPES = {
    "speech_to_text_srt": "application/x-subrip; charset=utf-8",
    "speech_to_text_vtt": "text/vtt; charset=utf-8",
    "speech_to_text_ttml": "application/ttml+xml; charset=utf-8",
    "speech_to_text_avid_txt": "text/plain; charset=utf-8",
}

_FORMAT = re.compile(rb'"metadata_format(?:_version)?"\s*:\s*"([^"]{1,32})"')


def content_type_for(result_type: str, served: str | None) -> str:
    """The content type to store: Valossa's, or ours when Valossa sent none."""
    if served and served.split(";")[0].strip() not in ("", "application/octet-stream"):
        return served
    return DEFAULT_CONTENT_TYPES.get(result_type, "application/json")


async def store_result(
    session: AsyncSession,
    analysis_id: uuid.UUID,
    result_type: str,
    content: AsyncIterable[bytes],
    *,
    content_type: str,
) -> StoredResult:
    """Write a result into the session's transaction, chunk by chunk, and return its record."""
    await session.execute(
        delete(StoredResult).where(
            StoredResult.analysis_id == analysis_id, StoredResult.result_type == result_type
        )
    )
    record = StoredResult(
        analysis_id=analysis_id, result_type=result_type, state=STORED, content_type=content_type
    )
    session.add(record)
    await session.flush()
    digest = hashlib.sha256()
    size = 0
    seq = 0
    head = b""
    buffer = bytearray()
    async for piece in content:
        digest.update(piece)
        size += len(piece)
        if len(head) < 4096:
            head += piece[: 4096 - len(head)]
        buffer += piece
        while len(buffer) >= CHUNK_BYTES:
            await _insert_chunk(session, record, seq, bytes(buffer[:CHUNK_BYTES]))
            del buffer[:CHUNK_BYTES]
            seq += 1
    if buffer or seq == 0:
        await _insert_chunk(session, record, seq, bytes(buffer))
    record.size_bytes = size
    record.sha256 = digest.hexdigest()
    match = _FORMAT.search(head)
    record.metadata_format = match.group(1).decode() if match else None
    return record


async def _insert_chunk(session: AsyncSession, record: StoredResult, seq: int, data: bytes) -> None:
    await session.execute(
        insert(ResultChunk).values(
            analysis_id=record.analysis_id,
            result_type=record.result_type,
            seq=seq,
            encoding=chunks.LZ4,
            data=chunks.encode(data),
        )
    )


#: Bytes of a result's beginning searched for its metadata format.
_HEAD_BYTES = 4096
_SPEECH = "audio.speech"
_SPEECH_GROUPING = "detection_groupings.by_detection_type"


@dataclass
class Spool:
    """A result read from Valossa into a temporary file (memory holds at most one chunk), so
    that it can be stored in a short transaction without Valossa on the other end."""

    result_type: str
    content_type: str
    file: IO[bytes] = field(
        default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES)  # noqa: SIM115
    )
    size: int = 0
    #: Of the bytes so far: their SHA-256 and the first 4 KiB (where the format is named), so
    #: that the record is written whole, before its chunks, with no update after them.
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    head: bytes = b""
    #: shows_speech's answer, once known (it is asked once per transcript type).
    _speech: bool | None = field(default=None, init=False, repr=False)

    async def fill(self, content: AsyncIterable[bytes]) -> None:
        """Write the whole stream into the spool."""
        async for piece in content:
            self.file.write(piece)
            self.size += len(piece)
            self.digest.update(piece)
            if len(self.head) < _HEAD_BYTES:
                self.head += piece[: _HEAD_BYTES - len(self.head)]

    async def chunks(self) -> AsyncIterator[bytes]:
        """The spooled bytes, from the first, one chunk at a time."""
        self.file.seek(0)
        while piece := self.file.read(CHUNK_BYTES):
            yield piece

    def shows_speech(self) -> bool:
        """True if this core metadata has `audio.speech` detections (read streamed: a core
        document can be tens of MB; once per spool, however often it is asked)."""
        if self._speech is None:
            self._speech = self._find_speech()
        return self._speech

    def _find_speech(self) -> bool:
        self.file.seek(0)
        try:
            for prefix, event, value in ijson.parse(self.file):
                if prefix == _SPEECH_GROUPING and event == "map_key":
                    if value == _SPEECH:
                        return True
                elif value == _SPEECH and prefix.startswith("detections.") and prefix[-2:] == ".t":
                    return True
        except ijson.JSONError:
            return True  # not ours to judge: ask Valossa, which knows
        return False

    def close(self) -> None:
        """Delete the temporary file."""
        self.file.close()


async def store_spools(
    session: AsyncSession,
    analysis_id: uuid.UUID,
    spools: Sequence[Spool],
    absent: Mapping[str, str],
) -> None:
    """Write fetched results (and the types Valossa does not have) into the session's
    transaction, as store_result and record_absent would, in a few statements: the records in
    one, then the chunks in one per MiB (the small results of an analysis share one).

    Nothing is deleted first, unlike store_result: the analysis's results are written only by
    the transaction that finishes it (fetch_results, under its claim), and finished is final.

    A statement per record and per chunk, plus an update of each record once its digest was
    known, was 13-15 % of the worker's CPU samples (5 result types per analysis)."""
    records = [
        _record(
            analysis_id,
            spool.result_type,
            STORED,
            content_type=spool.content_type,
            size_bytes=spool.size,
            sha256=spool.digest.hexdigest(),
            metadata_format=_metadata_format(spool.head),
        )
        for spool in spools
    ]
    records += [
        _record(analysis_id, result_type, ABSENT, absent_reason=reason)
        for result_type, reason in absent.items()
    ]
    if not records:
        return
    await session.execute(insert(_STORED_RESULTS), records)
    batch: list[dict[str, object]] = []
    batch_bytes = 0
    for spool in spools:
        seq = 0
        async for data in spool.chunks():
            batch.append(_chunk(analysis_id, spool.result_type, seq, data))
            batch_bytes += len(data)
            seq += 1
            if batch_bytes >= CHUNK_BYTES:
                await session.execute(insert(_RESULT_CHUNKS), batch)
                batch, batch_bytes = [], 0
        if seq == 0:  # an empty result is one empty chunk, as store_result writes it
            batch.append(_chunk(analysis_id, spool.result_type, 0, b""))
    if batch:
        await session.execute(insert(_RESULT_CHUNKS), batch)


def _record(
    analysis_id: uuid.UUID, result_type: str, state: str, **values: object
) -> dict[str, object]:
    """A stored_results row naming every column (one statement for rows of both kinds)."""
    return {
        "analysis_id": analysis_id,
        "result_type": result_type,
        "state": state,
        "content_type": None,
        "size_bytes": None,
        "sha256": None,
        "metadata_format": None,
        "absent_reason": None,
        **values,
    }


def _chunk(analysis_id: uuid.UUID, result_type: str, seq: int, data: bytes) -> dict[str, object]:
    return {
        "analysis_id": analysis_id,
        "result_type": result_type,
        "seq": seq,
        "encoding": chunks.LZ4,
        "data": chunks.encode(data),
    }


def _metadata_format(head: bytes) -> str | None:
    match = _FORMAT.search(head)
    return match.group(1).decode() if match else None


#: Tables, not ORM classes: a list of rows is then one executemany (see service/db.table_of).
_STORED_RESULTS = table_of(StoredResult)
_RESULT_CHUNKS = table_of(ResultChunk)


def record_absent(
    session: AsyncSession, analysis_id: uuid.UUID, result_type: str, reason: str
) -> None:
    """Remember that Valossa has no such result for this job (so it is not asked again)."""
    session.add(
        StoredResult(
            analysis_id=analysis_id, result_type=result_type, state=ABSENT, absent_reason=reason
        )
    )


class DamagedResult(ValueError):
    """A stored result whose chunks do not hold its recorded size (one missing, or more bytes
    than recorded): its download ends with an error, never as a whole response."""


@dataclass(frozen=True)
class ResultBody:
    """What is needed to serve a stored result before streaming its bytes."""

    analysis_id: uuid.UUID
    result_type: str
    content_type: str
    size_bytes: int
    sha256: str


#: Bytes read from Postgres per query when a result is served, about: few round trips, little
#: memory (two batches per download: the one sent and the one read ahead). A batch of LZ4
#: blocks holds ~4x the bytes of chunks stored as they are: in chunks, 32 against 8 for a
#: typical core. Bigger batches served a 100 MB result faster (bench/README.md).
SERVE_BATCH_BYTES = 8 * CHUNK_BYTES
#: Chunks asked for first, before their stored size is known (8 MiB if they are stored as the
#: bytes they hold, as before migration 0009).
FIRST_BATCH_CHUNKS = 8
#: And never more per query than this many.
MAX_BATCH_CHUNKS = 64

#: The name of the task that reads the next batch while one is sent (a prefix; for tests).
READ_AHEAD_TASK = "stream_result read-ahead"

#: Up to `count` chunks from `first_seq`, and of them only as many as start within the byte
#: budget (at least one): the count is guessed from the batch before, but how well the chunks
#: after it compress is not known. octet_length of a stored value reads its TOAST pointer, not
#: the value, and the chunks left out are never fetched.
_BATCH_SQL = (
    "SELECT encoding, data FROM ("
    "SELECT seq, encoding, data,"
    " sum(octet_length(data)) OVER (ORDER BY seq) - octet_length(data) AS before"
    " FROM result_chunks WHERE analysis_id = %s AND result_type = %s"
    " AND seq >= %s AND seq < %s"
    ") AS batch WHERE before < %s ORDER BY seq"
)


async def read_batch(
    sessionmaker: SessionMaker, body: ResultBody, first_seq: int, count: int
) -> list[tuple[str, bytes]]:
    """Up to `count` chunks of a stored result from `first_seq`, in one short query, as stored:
    (encoding, data) each (see service.analyses.chunks); no more than the chunks that start
    within SERVE_BATCH_BYTES of stored bytes, whatever `count` says.

    The rows come in psycopg's binary format: bytea as is. In the text format Postgres writes
    it out as hex (twice the bytes) and psycopg decodes that again, which made serving a large
    result about three times slower. SQLAlchemy has no per-query switch for it, hence the
    driver's own cursor on the session's connection.
    """
    async with sessionmaker() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        async with driver.cursor(binary=True) as cursor:
            await cursor.execute(
                _BATCH_SQL,
                (
                    body.analysis_id,
                    body.result_type,
                    first_seq,
                    first_seq + count,
                    SERVE_BATCH_BYTES,
                ),
            )
            rows: list[tuple[str, bytes]] = await cursor.fetchall()
    return rows


async def stream_result(sessionmaker: SessionMaker, body: ResultBody) -> AsyncIterator[memoryview]:
    """Yield a stored result's bytes chunk by chunk, a few chunks per short query, the next
    batch being read while the current one is sent.

    Each chunk is decompressed just before it is sent, so that memory holds the compressed
    batches and one chunk or two, and sending (the kernel copying into the socket while the
    client reads) overlaps decompressing the next.

    It stops at the recorded size: asking once more after the last chunk would race the client
    hanging up (it has every byte), and a query cancelled half-way costs the pooled connection.
    For the same reason each query finishes even if the client leaves while it runs, and no
    connection is held while the client reads (a slow client must not hold the pool): a batch
    read ahead returns its connection as soon as its query ends, and the next is only asked for
    once the client has taken the one before. If the client leaves with a batch being read,
    closing this generator waits for that query to end (a task left behind would be cancelled
    at shutdown, or log its error as never retrieved).

    Chunks that do not hold the recorded size (one missing, more bytes than recorded, an LZ4
    block holding fewer bytes than it says) end the stream with an error, logged: the server
    then closes the connection short, never ends a response (gzipped, without Content-Length,
    a complete gzip stream) of other bytes than the result's.
    """
    sent = 0
    seq = 0
    reading = (
        _read_ahead(sessionmaker, body, seq, FIRST_BATCH_CHUNKS) if body.size_bytes > 0 else None
    )
    try:
        while reading is not None:
            batch = await _finished(reading)
            reading = None
            if not batch:
                log.error(
                    "stored %s of analysis %s ends at %d of its %d bytes",
                    body.result_type,
                    body.analysis_id,
                    sent,
                    body.size_bytes,
                )
                # Raised, not returned: a stream that ended would be a whole response to the
                # server, and gzipped (no Content-Length) a complete gzip of the bytes so far.
                raise DamagedResult(f"ends at {sent} of its {body.size_bytes} bytes")
            first = seq
            seq += len(batch)
            held = sum(chunks.size_of(encoding, data) for encoding, data in batch)
            if sent + held < body.size_bytes:
                reading = _read_ahead(sessionmaker, body, seq, _next_count(batch))
            for at, (encoding, data) in enumerate(batch, start=first):
                try:
                    piece = chunks.decode(encoding, data)
                except chunks.UnreadableChunk as error:
                    # Raised on: the client sees the connection close short of Content-Length.
                    log.error(
                        "stored %s of analysis %s: chunk %d cannot be read (%s); its download"
                        " ends at %d of %d bytes",
                        body.result_type,
                        body.analysis_id,
                        at,
                        error,
                        sent,
                        body.size_bytes,
                    )
                    raise
                if sent + len(piece) > body.size_bytes:
                    log.error(
                        "stored %s of analysis %s holds more than its %d bytes (chunk %d); its"
                        " download ends at %d bytes",
                        body.result_type,
                        body.analysis_id,
                        body.size_bytes,
                        at,
                        sent,
                    )
                    raise DamagedResult(f"holds more than its {body.size_bytes} bytes")
                yield piece
                sent += len(piece)
    finally:
        if reading is not None:
            # The client is gone (or the await above was interrupted): its error, if any, was
            # raised above or is about bytes nobody will read.
            with contextlib.suppress(Exception):
                await _finished(reading)


def _next_count(batch: list[tuple[str, bytes]]) -> int:
    """How many chunks the next query asks for: about SERVE_BATCH_BYTES, at the stored size of
    the chunks just read."""
    stored = sum(len(data) for _, data in batch)
    return max(1, min(MAX_BATCH_CHUNKS, SERVE_BATCH_BYTES * len(batch) // max(1, stored)))


def _read_ahead(
    sessionmaker: SessionMaker, body: ResultBody, first_seq: int, count: int
) -> asyncio.Task[list[tuple[str, bytes]]]:
    """`read_batch` in a task of its own, so that it runs while the consumer sends."""
    return asyncio.create_task(
        read_batch(sessionmaker, body, first_seq, count),
        name=f"{READ_AHEAD_TASK} {body.analysis_id} {body.result_type} {first_seq}",
    )


async def _finished(task: asyncio.Task[list[tuple[str, bytes]]]) -> list[tuple[str, bytes]]:
    """The task's batch, its query never cancelled half-way: not by a cancelled anyio scope (a
    client hanging up; Starlette cancels the response's task group), which the shielded scope
    defers until the query ends, nor by a bare task.cancel(), which asyncio.shield keeps from
    reaching the query (it still ends, and its connection goes back to the pool)."""
    with anyio.CancelScope(shield=True):
        batch = await asyncio.shield(task)
    return batch


__all__ = [
    "ABSENT",
    "STORED",
    "DamagedResult",
    "ResultBody",
    "ResultType",
    "Spool",
    "store_result",
    "store_spools",
]
