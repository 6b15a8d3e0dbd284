"""Writes one analysis's index rows inside the caller's transaction, reading its stored results
chunk by chunk: memory stays at one chunk plus one batch of rows, whatever the document size."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import chunks
from service.analyses.models import Analysis, StoredResult
from service.analyses.results import STORED, ResultBody
from service.db import table_of
from service.search.extraction import CoreExtractor, DetectionRow, MediaFacts, Rows, SpeechRow
from service.search.models import (
    SearchDetection,
    SearchFace,
    SearchMedia,
    SearchOccurrence,
    SearchSpeech,
)
from service.search.subtitles import SrtReader

log = logging.getLogger(__name__)

#: Rows written per INSERT round trip.
BATCH_ROWS = 2000
#: Longer "labels" (OCR text, say) are kept on the detection but left out of the vocabulary.
MAX_VOCABULARY_LABEL = 200
SRT = "speech_to_text_srt"

_SPEECH_TERMS = text(
    """
    INSERT INTO search_speech_terms (analysis_id, lexeme, hits)
    SELECT :analysis_id, lexeme, count(*) FROM search_speech, unnest(tsv) AS t(lexeme)
    WHERE analysis_id = :analysis_id GROUP BY lexeme
    """
)

# The labels' ids, adding the new ones, in one statement: those inserted come from RETURNING,
# the others from the table as the statement found it. A label another indexer adds at the
# same moment is in neither (our insert waits for theirs and skips it; our snapshot predates
# it): it is read again by _LABEL_IDS, a statement of its own with a fresh snapshot.
_ADD_LABELS = text(
    """
    WITH added AS (
        INSERT INTO search_labels (label) SELECT unnest(CAST(:labels AS text[]))
        ON CONFLICT (label) DO NOTHING
        RETURNING label, id
    )
    SELECT label, id FROM added
    UNION ALL
    SELECT label, id FROM search_labels WHERE label = ANY(CAST(:labels AS text[]))
    """
)
_LABEL_IDS = text("SELECT label, id FROM search_labels WHERE label = ANY(CAST(:labels AS text[]))")


@dataclass(frozen=True)
class IndexStats:
    """What one analysis's index holds, and how long it took to write."""

    detections: int
    occurrences: int
    speech_segments: int
    speech_source: str | None
    seconds: float


# The tables, not the ORM classes: an ORM bulk insert groups rows by the columns they leave
# null and sends one INSERT per group (nine round trips for the detections of a 3 s clip); a
# table's insert is one executemany for every row.
_DETECTIONS = table_of(SearchDetection)
_OCCURRENCES = table_of(SearchOccurrence)
_FACES = table_of(SearchFace)
_SPEECH = table_of(SearchSpeech)


class _Batches:
    """Buffers rows and writes them in batches, numbering speech segments in order."""

    def __init__(self, session: AsyncSession, analysis_id: object) -> None:
        self.session = session
        self.analysis_id = analysis_id
        self.labels: dict[str, int] = {}
        self.speech_written = 0

    async def write(self, rows: Rows) -> None:
        labels = {d.label for d in rows.detections if d.label and _in_vocabulary(d.label)}
        await self._labels(labels)
        tables = (
            (_DETECTIONS, [self._detection(d) for d in rows.detections]),
            (_OCCURRENCES, [dataclasses.asdict(o) for o in rows.occurrences]),
            (_FACES, [dataclasses.asdict(f) for f in rows.faces]),
            (_SPEECH, [self._speech(s) for s in rows.speech]),
        )
        for table, values in tables:
            if values:
                for value in values:
                    value["analysis_id"] = self.analysis_id
                await self.session.execute(insert(table), values)
        rows.clear()

    def _detection(self, row: DetectionRow) -> dict[str, object]:
        values: dict[str, object] = dataclasses.asdict(row)
        # Every row names every column (one statement for all of them).
        values["label_id"] = (
            self.labels.get(row.label) if row.label and _in_vocabulary(row.label) else None
        )
        return values

    def _speech(self, row: SpeechRow) -> dict[str, object]:
        values: dict[str, object] = {**dataclasses.asdict(row), "seq": self.speech_written}
        self.speech_written += 1
        return values

    async def _labels(self, labels: set[str]) -> None:
        missing = sorted(label for label in labels if label not in self.labels)
        if not missing:
            return
        found = await self.session.execute(_ADD_LABELS, {"labels": missing})
        self.labels.update(dict(found.all()))
        raced = [label for label in missing if label not in self.labels]
        if raced:
            found = await self.session.execute(_LABEL_IDS, {"labels": raced})
            self.labels.update(dict(found.all()))


def _in_vocabulary(label: str) -> bool:
    return len(label) <= MAX_VOCABULARY_LABEL


async def write_index(session: AsyncSession, analysis: Analysis) -> IndexStats:
    """Replace the media's index with this analysis's rows (the caller commits)."""
    started = time.perf_counter()
    await session.execute(
        delete(SearchMedia).where(SearchMedia.customer_media_id == analysis.customer_media_id)
    )
    session.add(
        SearchMedia(
            analysis_id=analysis.id,
            customer_media_id=analysis.customer_media_id,
            detections_count=0,
            occurrences_count=0,
        )
    )
    await session.flush()
    stored = await _stored_results(session, analysis)
    batches = _Batches(session, analysis.id)
    facts = MediaFacts(None, None, None, None)
    extractor = CoreExtractor()
    if "core" in stored:
        async for chunk in _chunks(session, stored["core"]):
            extractor.feed(chunk)
            if len(extractor.rows) >= BATCH_ROWS:
                await batches.write(extractor.rows)
        facts = extractor.close()
        await batches.write(extractor.rows)
    speech_source = "core" if extractor.speech_seen else None
    if not extractor.speech_seen and SRT in stored:
        speech_source = SRT if await _write_srt(session, stored[SRT], batches) else None
    if batches.speech_written:
        await session.execute(_SPEECH_TERMS, {"analysis_id": analysis.id})
    await session.execute(
        update(SearchMedia)
        .where(SearchMedia.analysis_id == analysis.id)
        .values(
            title=facts.title or analysis.title,
            description=facts.description or analysis.description,
            duration_s=facts.duration_s,
            metadata_format=facts.metadata_format,
            speech_source=speech_source,
            detections_count=extractor.detections_seen,
            occurrences_count=extractor.occurrences_seen,
        )
    )
    return IndexStats(
        detections=extractor.detections_seen,
        occurrences=extractor.occurrences_seen,
        speech_segments=batches.speech_written,
        speech_source=speech_source,
        seconds=time.perf_counter() - started,
    )


async def _write_srt(session: AsyncSession, body: ResultBody, batches: _Batches) -> bool:
    reader = SrtReader()
    written = False
    async for chunk in _chunks(session, body):
        reader.feed(chunk)
        if len(reader.segments) >= BATCH_ROWS:
            written = True
            await batches.write(Rows(speech=reader.segments))
    reader.close()
    written = written or bool(reader.segments)
    await batches.write(Rows(speech=reader.segments))
    return written


#: Chunks read per query: few round trips, little memory.
READ_BATCH_CHUNKS = 4
_CHUNKS_SQL = (
    "SELECT encoding, data FROM result_chunks WHERE analysis_id = %s AND result_type = %s"
    " AND seq >= %s AND seq < %s ORDER BY seq"
)


async def _chunks(session: AsyncSession, body: ResultBody) -> AsyncIterator[bytes]:
    """A stored result's bytes, a few chunks per query, read in the index's own transaction.

    Not results.stream_result, which serves a client: it takes a pooled connection and a
    transaction for each batch (three round trips where one does), so that no connection waits
    on a slow client; the indexer holds its transaction anyway. As there, psycopg's binary
    format brings bytea as is (the text format would double it as hex), and reading stops at
    the recorded size (a shorter result is logged and read as far as it goes, as there)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    read = 0
    seq = 0
    while read < body.size_bytes:
        async with driver.cursor(binary=True) as cursor:
            await cursor.execute(
                _CHUNKS_SQL,
                (body.analysis_id, body.result_type, seq, seq + READ_BATCH_CHUNKS),
            )
            batch = [bytes(chunks.decode(*row)) for row in await cursor.fetchall()]
        if not batch:
            log.error(
                "stored %s of analysis %s ends at %d of its %d bytes",
                body.result_type,
                body.analysis_id,
                read,
                body.size_bytes,
            )
            return
        for data in batch:
            yield data
            read += len(data)
        seq += len(batch)


async def _stored_results(session: AsyncSession, analysis: Analysis) -> dict[str, ResultBody]:
    records = await session.scalars(
        select(StoredResult).where(
            StoredResult.analysis_id == analysis.id,
            StoredResult.result_type.in_(["core", SRT]),
            StoredResult.state == STORED,
        )
    )
    return {
        r.result_type: ResultBody(
            analysis_id=r.analysis_id,
            result_type=r.result_type,
            content_type=r.content_type or "application/octet-stream",
            size_bytes=r.size_bytes or 0,
            sha256=r.sha256 or "",
        )
        for r in records
    }
