"""Indexing on real Postgres: one transaction per analysis, newest finished only, replace,
delete, rebuild, failures retried."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from sqlalchemy import delete, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses.models import Analysis
from service.analyses.results import CHUNK_BYTES, store_result
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker, make_engine, make_sessionmaker
from service.emulator.metadata import GalleryFace
from service.search.indexing import index_analysis, index_backlog, reindex_media
from service.search.models import (
    SearchBacklog,
    SearchDetection,
    SearchFace,
    SearchMedia,
    SearchOccurrence,
    SearchSpeech,
    SearchSpeechTerm,
)
from service.search.writer import _Batches
from tests.search.search_support import drain_backlog, dumps, emulated_core, real_example
from tests.support.factories import insert_analysis, insert_finished_analysis


async def count(sessionmaker: SessionMaker, table: Any, analysis_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).select_from(table).where(table.analysis_id == analysis_id)
        )
        return int(found or 0)


async def snapshot(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> dict[str, list[Any]]:
    """Every index row of an analysis, as comparable tuples."""
    tables = {
        "media": (SearchMedia, ["customer_media_id", "title", "duration_s", "metadata_format"]),
        "detections": (SearchDetection, ["seq", "valossa_id", "type", "label", "confidence"]),
        "occurrences": (SearchOccurrence, ["detection_seq", "seq", "start_s", "end_s"]),
        "faces": (SearchFace, ["detection_seq", "name", "face_id", "similarity"]),
        "speech": (SearchSpeech, ["seq", "start_s", "end_s", "text"]),
        "terms": (SearchSpeechTerm, ["lexeme", "hits"]),
    }
    found: dict[str, list[Any]] = {}
    async with sessionmaker() as session:
        for name, (table, columns) in tables.items():
            rows = await session.execute(
                select(*(getattr(table, c) for c in columns))
                .where(table.analysis_id == analysis_id)
                .order_by(*(getattr(table, c) for c in columns))
            )
            found[name] = [tuple(row) for row in rows]
    return found


async def test_real_example_is_indexed_from_the_backlog(sessionmaker: SessionMaker) -> None:
    analysis = await insert_finished_analysis(
        sessionmaker, customer_media_id="charade", results={"core": real_example()}
    )
    async with sessionmaker() as session:  # the trigger queued it
        assert await session.get(SearchBacklog, analysis.id) is not None
    assert await index_backlog(sessionmaker) == 1

    rows = await snapshot(sessionmaker, analysis.id)
    assert rows["media"] == [
        ("charade", "Charade with human created transcript", 6816.389, "1.3.1")
    ]
    assert len(rows["detections"]) == 701
    assert len(rows["occurrences"]) == 6960
    assert {name for _, name, _, _ in rows["faces"] if name} == {
        "Audrey Hepburn",
        "Cary Grant",
        "Aubrey Anderson-Emmons",
    }
    async with sessionmaker() as session:
        assert await session.get(SearchBacklog, analysis.id) is None


async def test_srt_is_the_speech_when_core_has_none(sessionmaker: SessionMaker) -> None:
    doc = emulated_core("job-srt")
    speech = {k: v for k, v in doc["detections"].items() if v["t"] == "audio.speech"}
    core_without_speech = {
        **doc,
        "detections": {k: v for k, v in doc["detections"].items() if k not in speech},
    }
    srt = b"1\n00:00:01,000 --> 00:00:03,500\nThe lighthouse keeper waved\n\n"
    analysis = await insert_finished_analysis(
        sessionmaker,
        results={"core": dumps(core_without_speech), "speech_to_text_srt": srt},
    )
    await drain_backlog(sessionmaker)
    rows = await snapshot(sessionmaker, analysis.id)
    assert rows["speech"] == [(0, 1.0, 3.5, "The lighthouse keeper waved")]
    assert {lexeme for lexeme, _ in rows["terms"]} == {"lighthous", "keeper", "wave"}
    async with sessionmaker() as session:
        media = await session.get(SearchMedia, analysis.id)
    assert media is not None
    assert media.speech_source == "speech_to_text_srt"


async def test_core_speech_wins_over_the_srt(sessionmaker: SessionMaker) -> None:
    doc = emulated_core("job-both")
    srt = b"1\n00:00:01,000 --> 00:00:03,500\nnot used\n\n"
    analysis = await insert_finished_analysis(
        sessionmaker, results={"core": dumps(doc), "speech_to_text_srt": srt}
    )
    await drain_backlog(sessionmaker)
    rows = await snapshot(sessionmaker, analysis.id)
    spoken = [v for v in doc["detections"].values() if v["t"] == "audio.speech"]
    assert len(rows["speech"]) == len(spoken)
    assert "not used" not in {text for *_, text in rows["speech"]}


async def test_reanalysis_replaces_and_delete_removes(sessionmaker: SessionMaker) -> None:
    first = await insert_finished_analysis(
        sessionmaker, customer_media_id="m", results={"core": dumps(emulated_core("one"))}
    )
    await drain_backlog(sessionmaker)
    second = await insert_finished_analysis(
        sessionmaker, customer_media_id="m", results={"core": dumps(emulated_core("two"))}
    )
    await drain_backlog(sessionmaker)

    assert await count(sessionmaker, SearchMedia, first.id) == 0
    assert await count(sessionmaker, SearchOccurrence, first.id) == 0
    assert await count(sessionmaker, SearchMedia, second.id) == 1
    assert await count(sessionmaker, SearchOccurrence, second.id) > 0

    async with sessionmaker() as session, session.begin():
        await session.execute(delete(Analysis).where(Analysis.customer_media_id == "m"))
    for table in (SearchMedia, SearchDetection, SearchOccurrence, SearchSpeech, SearchSpeechTerm):
        assert await count(sessionmaker, table, second.id) == 0


async def test_an_older_analysis_finishing_late_does_not_replace_the_newer(
    sessionmaker: SessionMaker,
) -> None:
    older = await insert_analysis(
        sessionmaker, customer_media_id="m", status=AnalysisStatus.SUBMITTED
    )
    newer = await insert_finished_analysis(
        sessionmaker, customer_media_id="m", results={"core": dumps(emulated_core("new"))}
    )
    await drain_backlog(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis).where(Analysis.id == older.id).values(status="finished")
        )
    await index_analysis(sessionmaker, older.id)
    await drain_backlog(sessionmaker)
    assert await count(sessionmaker, SearchMedia, newer.id) == 1
    assert await count(sessionmaker, SearchMedia, older.id) == 0


async def test_indexing_is_idempotent_and_reindex_rebuilds_the_same_rows(
    sessionmaker: SessionMaker,
) -> None:
    analysis = await insert_finished_analysis(
        sessionmaker, customer_media_id="m", results={"core": dumps(emulated_core("same"))}
    )
    await index_analysis(sessionmaker, analysis.id)
    before = await snapshot(sessionmaker, analysis.id)
    await index_analysis(sessionmaker, analysis.id)  # nothing queued: a no-op
    assert await snapshot(sessionmaker, analysis.id) == before

    stats = await reindex_media(sessionmaker, "m")
    assert await snapshot(sessionmaker, analysis.id) == before
    assert stats.occurrences == len(before["occurrences"])
    assert stats.speech_source == "core"


async def test_a_broken_document_is_retried_later_and_stale_rows_go(
    sessionmaker: SessionMaker,
) -> None:
    good = await insert_finished_analysis(
        sessionmaker, customer_media_id="m", results={"core": dumps(emulated_core("ok"))}
    )
    await drain_backlog(sessionmaker)
    broken = await insert_finished_analysis(
        sessionmaker, customer_media_id="m", results={"core": b'{"detections": {"1": '}
    )
    await index_analysis(sessionmaker, broken.id)  # logs, never raises

    async with sessionmaker() as session:
        entry = await session.get(SearchBacklog, broken.id)
        assert entry is not None
        assert entry.attempts == 1
        assert entry.last_error
        assert "IncompleteJSONError" in entry.last_error
        waits = await session.scalar(
            text("SELECT next_attempt_at > now() FROM search_backlog WHERE analysis_id = :id"),
            {"id": broken.id},
        )
        assert waits
    assert await index_backlog(sessionmaker) == 0  # not due yet
    # Only the newest finished analysis may answer searches: the older index is gone.
    assert await count(sessionmaker, SearchMedia, good.id) == 0
    assert await count(sessionmaker, SearchMedia, broken.id) == 0


async def test_analyses_finished_before_the_feature_are_queued_by_the_migration(
    empty_database: str,
) -> None:
    from alembic import command

    from service.db import make_engine, make_sessionmaker
    from service.migrate import alembic_config

    config = alembic_config(empty_database)
    command.upgrade(config, "0001")
    engine = make_engine(empty_database, max_connections=4)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            ids = [uuid.uuid4() for _ in range(3)]
            for n, (analysis_id, media) in enumerate(zip(ids, ("a", "a", "b"), strict=True)):
                await session.execute(
                    text(
                        "INSERT INTO analyses (id, customer_media_id, status, language, "
                        "result_types, created_at) VALUES (:id, :m, 'finished', 'en-US', "
                        "ARRAY['core'], now() + make_interval(secs => :n))"
                    ),
                    {"id": analysis_id, "m": media, "n": n},
                )
        command.upgrade(config, "head")
        async with sessionmaker() as session:
            queued = set(await session.scalars(select(SearchBacklog.analysis_id)))
        assert queued == {ids[1], ids[2]}  # the newest finished of each media
    finally:
        await engine.dispose()


async def test_text_postgres_cannot_store_is_replaced_not_a_failed_index(
    sessionmaker: SessionMaker,
) -> None:
    # Valossa's JSON may spell a NUL or a lone surrogate (`\u0000`, `\ud800`) in any string;
    # Postgres text and jsonb hold neither. Each becomes U+FFFD and the rest is indexed.
    face = GalleryFace("g\x00", "f\ud800", "Ada\x00 Lovelace", "female")
    doc = emulated_core("job-nul", faces=(face,))
    doc["media_info"]["from_customer"] = {"title": "Harbour\x00 at dawn"}
    doc["detections"]["9001\x00"] = {
        "t": "visual.context",
        "label": "light\x00house",
        "cid": "c\ud800",
        "ext_refs": {"wiki\x00": {"id": "Q\x00", "nested": ["\udfff", 1]}},
        "categ": {"tags": ["sea\x00"]},
        "occs": [{"id": "90011", "ss": 1.0, "se": 2.0, "c_max": 0.9}],
    }
    doc["detections"]["9002"] = {
        "t": "audio.speech",
        "label": "the keeper\x00 waved",
        "occs": [{"id": "90021", "ss": 3.0, "se": 4.0}],
    }
    srt = b"1\n00:00:01,000 --> 00:00:03,500\nnul\x00 in the srt\n\n"
    analysis = await insert_finished_analysis(
        sessionmaker, results={"core": dumps(doc), "speech_to_text_srt": srt}
    )

    await index_analysis(sessionmaker, analysis.id)

    async with sessionmaker() as session:
        assert await session.get(SearchBacklog, analysis.id) is None  # indexed, not retried
        media = await session.get(SearchMedia, analysis.id)
        detection = await session.scalar(
            select(SearchDetection).where(
                SearchDetection.analysis_id == analysis.id, SearchDetection.cid == "c\ufffd"
            )
        )
        face_names = set(
            await session.scalars(
                select(SearchFace.name).where(SearchFace.analysis_id == analysis.id)
            )
        )
        spoken = set(
            await session.scalars(
                select(SearchSpeech.text).where(SearchSpeech.analysis_id == analysis.id)
            )
        )
    assert media is not None
    assert media.title == "Harbour\ufffd at dawn"
    assert detection is not None
    assert (detection.valossa_id, detection.label) == ("9001\ufffd", "light\ufffdhouse")
    assert detection.ext_refs == {"wiki\ufffd": {"id": "Q\ufffd", "nested": ["\ufffd", 1]}}
    assert detection.tags == ["sea\ufffd"]
    assert "Ada\ufffd Lovelace" in face_names
    assert "the keeper\ufffd waved" in spoken


async def test_a_label_another_indexer_adds_meanwhile_gets_its_id(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    """Two indexers adding the same new label: the one that waits for the other's insert still
    links its detections to the label (read again, after the statement that missed it)."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(dsn) as other:
        await other.execute("INSERT INTO search_labels (label) VALUES ('lighthouse'), ('keeper')")
        async with sessionmaker() as session, session.begin():
            batches = _Batches(session, uuid.uuid4())
            adding = asyncio.create_task(batches._labels({"lighthouse", "keeper", "wave"}))
            await asyncio.sleep(0.3)
            assert not adding.done()  # waiting for the other indexer's insert
            await other.commit()
            await adding
        cursor = await other.execute("SELECT label, id FROM search_labels")
        assert batches.labels == dict(await cursor.fetchall())
    assert set(batches.labels) == {"lighthouse", "keeper", "wave"}


async def test_the_backlog_is_read_without_a_transaction(database_url: str) -> None:
    """The worker reads the backlog after every fetch of results: one statement in autocommit
    (no BEGIN and ROLLBACK around it) when nothing is due."""
    engine = make_engine(database_url, max_connections=1)  # one connection: the same again
    sessionmaker = make_sessionmaker(engine)
    seen: list[tuple[str, bool]] = []

    def statement(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append((sql.split()[0], bool(conn.connection.driver_connection.autocommit)))

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        assert await index_backlog(sessionmaker) == 0
        # ... and the connection goes back to the pool as it came: for transactions.
        async with sessionmaker() as session, session.begin():
            await session.execute(text("SELECT 1"))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
        await engine.dispose()
    assert seen == [("SELECT", True), ("SELECT", False)]


async def test_an_analysis_is_indexed_in_one_transaction_on_one_connection(
    sessionmaker: SessionMaker, engine: AsyncEngine
) -> None:
    """Its stored core (here six chunks) and SRT are read in the index's own transaction, not
    on a pooled connection and in a transaction per few chunks as a client's download is."""
    doc = emulated_core("job-one")
    silent = {k: v for k, v in doc["detections"].items() if v["t"] != "audio.speech"}
    core = dumps({**doc, "detections": silent})
    core += b" " * (CHUNK_BYTES * 5)  # JSON allows whitespace after the value
    srt = b"1\n00:00:01,000 --> 00:00:03,500\nThe lighthouse keeper waved\n\n"
    analysis = await insert_finished_analysis(sessionmaker, results={"speech_to_text_srt": srt})
    async with sessionmaker() as session, session.begin():
        await store_result(
            session, analysis.id, "core", _pieces(core), content_type="application/json"
        )
    begun: list[object] = []

    def begin(conn: Any) -> None:
        begun.append(conn)

    event.listen(engine.sync_engine, "begin", begin)
    try:
        await index_analysis(sessionmaker, analysis.id)
    finally:
        event.remove(engine.sync_engine, "begin", begin)
    assert len(begun) == 1
    assert await count(sessionmaker, SearchDetection, analysis.id) == len(silent)
    assert await count(sessionmaker, SearchSpeech, analysis.id) == 1  # the SRT's one cue


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 300_000):
        yield data[start : start + 300_000]


async def test_a_result_stored_before_0009_is_indexed_as_one_stored_since(
    sessionmaker: SessionMaker,
) -> None:
    """Chunks that hold the bytes as they are (encoding identity) and LZ4 blocks give the same
    rows."""
    doc = emulated_core("job-one")
    core = dumps(doc) + b" " * (CHUNK_BYTES * 2)  # three chunks
    rows = []
    for stored_as in ("lz4", "identity"):
        analysis = await insert_finished_analysis(
            sessionmaker, customer_media_id=f"m-{stored_as}", results={}
        )
        async with sessionmaker() as session, session.begin():
            await store_result(
                session, analysis.id, "core", _pieces(core), content_type="application/json"
            )
            if stored_as == "identity":
                for seq in range(3):
                    await session.execute(
                        text(
                            "UPDATE result_chunks SET encoding = 'identity', data = :data"
                            " WHERE analysis_id = :id AND seq = :seq"
                        ),
                        {
                            "id": analysis.id,
                            "seq": seq,
                            "data": core[seq * CHUNK_BYTES : (seq + 1) * CHUNK_BYTES],
                        },
                    )
        await index_analysis(sessionmaker, analysis.id)
        rows.append(await count(sessionmaker, SearchDetection, analysis.id))
    assert rows[0] == rows[1] > 0
