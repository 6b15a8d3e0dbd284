"""GET /v1/search over a corpus of analysed media, against scanning every core document.

Builds N media (default 10,000) with the emulator's metadata generator (1-6 minute videos,
1 in 10 with a trained gallery face). Every document goes through the real streaming
extractor; the first 100 are also stored and indexed through the worker's own path
(result_chunks -> index_backlog), the rest are written with COPY (same rows, bulk). Then it
times label, face-name and speech queries through the API in-process (p50/p95), and the naive
way (load and scan every stored core document) on the 100-media subset.

    .venv/bin/python bench/search_corpus.py --media 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.emulator.metadata import GalleryFace, ResultsInput  # noqa: E402
from service.emulator.metadata.core import build_core, typical_technical  # noqa: E402
from service.search.extraction import CoreExtractor  # noqa: E402

SUBSET = 100
FIRST = ("Emilia", "Jonas", "Aino", "Ravi", "Chloe", "Mateo", "Sanna", "Kofi", "Lena", "Yusuf")
LAST = ("Example", "Virtanen", "Moreau", "Okoye", "Silva", "Tanaka", "Novak", "Berg")
FACES = [f"{a} {b}" for a in FIRST for b in LAST]
QUERIES = {
    "label": ["car", "airplanes", "sky", "buildng", "dog", "sports car"],
    "face": ["Emilia Example", "Ravi Okoye", "Aino Tanaka", "kofi silva"],
    "speech": ["inheritance", "Lisbon", "telegram", "harbour authority", "briefcase"],
}


def generate(n: int) -> tuple[str, str, bytes, dict[str, Any]]:
    """One media: its id, title, core document bytes and the extracted rows (real extractor)."""
    rng = random.Random(n)
    faces = ()
    if n % 10 == 0:
        name = FACES[rng.randrange(len(FACES))]
        faces = (GalleryFace("bench-gallery", f"face-{FACES.index(name)}", name, None),)
    title = f"Bench media {n}"
    inp = ResultsInput(
        f"bench-job-{n}",
        {"media": {"video": {"url": f"https://x/{n}.mp4"}, "title": title}},
        typical_technical(rng.uniform(60, 360)),
        None,
        faces,
    )
    data = json.dumps(build_core(inp).doc).encode()
    extractor = CoreExtractor()
    extractor.feed(data)
    facts = extractor.close()
    rows = extractor.rows
    return (
        f"media-{n:05d}",
        title,
        data if n < SUBSET else b"",
        {
            "facts": facts,
            "detections": rows.detections,
            "occurrences": rows.occurrences,
            "faces": rows.faces,
            "speech": rows.speech,
            "counts": (extractor.detections_seen, extractor.occurrences_seen),
        },
    )


def _copy(
    conn: psycopg.Connection[Any], table: str, columns: str, rows: list[tuple[Any, ...]]
) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def bulk_load(libpq: str, generated: list[tuple[str, str, bytes, dict[str, Any]]]) -> None:
    """Analyses and index rows of the media beyond the subset, with COPY."""
    with psycopg.connect(libpq) as conn:
        labels = sorted(
            {
                d.label
                for *_, r in generated
                for d in r["detections"]
                if d.label and len(d.label) <= 200
            }
        )
        conn.execute(
            "INSERT INTO search_labels (label) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
            (labels,),
        )
        label_ids = dict(conn.execute("SELECT label, id FROM search_labels").fetchall())
        analyses, media, detections, occurrences, faces, speech = [], [], [], [], [], []
        for customer_media_id, title, _, r in generated:
            analysis_id = uuid.uuid4()
            analyses.append(
                (analysis_id, customer_media_id, "finished", "en-US", "{core}", "finished")
            )
            facts = r["facts"]
            media.append(
                (
                    analysis_id,
                    customer_media_id,
                    title,
                    facts.duration_s,
                    facts.metadata_format,
                    "core" if r["speech"] else None,
                    *r["counts"],
                )
            )
            detections += [
                (
                    analysis_id,
                    d.seq,
                    d.valossa_id,
                    d.type,
                    d.label,
                    label_ids.get(d.label),
                    d.cid,
                    json.dumps(d.ext_refs) if d.ext_refs else None,
                    d.confidence,
                    d.occurrences,
                    d.screen_time_s,
                    d.first_s,
                )
                for d in r["detections"]
            ]
            occurrences += [
                (analysis_id, o.detection_seq, o.seq, o.start_s, o.end_s, o.confidence)
                for o in r["occurrences"]
            ]
            faces += [
                (
                    analysis_id,
                    f.detection_seq,
                    f.gender,
                    f.gallery_id,
                    f.face_id,
                    f.name,
                    f.similarity,
                    f.visible_s,
                )
                for f in r["faces"]
            ]
            speech += [
                (analysis_id, n, s.start_s, s.end_s, s.text) for n, s in enumerate(r["speech"])
            ]
        _copy(
            conn,
            "analyses",
            "id, customer_media_id, status, language, result_types, valossa_status",
            analyses,
        )
        _copy(
            conn,
            "search_media",
            "analysis_id, customer_media_id, title, duration_s, metadata_format, speech_source,"
            " detections_count, occurrences_count",
            media,
        )
        _copy(
            conn,
            "search_detections",
            "analysis_id, seq, valossa_id, type, label, label_id, cid, ext_refs, confidence,"
            " occurrences, screen_time_s, first_s",
            detections,
        )
        _copy(
            conn,
            "search_occurrences",
            "analysis_id, detection_seq, seq, start_s, end_s, confidence",
            occurrences,
        )
        _copy(
            conn,
            "search_faces",
            "analysis_id, detection_seq, gender, gallery_id, face_id, name, similarity, visible_s",
            faces,
        )
        _copy(conn, "search_speech", "analysis_id, seq, start_s, end_s, text", speech)
        conn.execute(
            "INSERT INTO search_speech_terms (analysis_id, lexeme, hits)"
            " SELECT analysis_id, lexeme, count(*)"
            " FROM search_speech, unnest(tsv) AS t(lexeme) GROUP BY analysis_id, lexeme"
            " ON CONFLICT DO NOTHING"
        )
        conn.execute("TRUNCATE search_backlog")
        conn.commit()
        print(
            f"bulk: {len(analyses)} media, {len(detections)} detections,"
            f" {len(occurrences)} occurrences, {len(speech)} speech segments",
            flush=True,
        )


async def index_subset(
    database_url: str, subset: list[tuple[str, str, bytes, dict[str, Any]]]
) -> None:
    """The subset through the worker's own path: stored chunks, then the backlog sweep."""
    from service.analyses.results import store_result
    from service.db import make_engine, make_sessionmaker
    from service.search.indexing import index_backlog
    from tests.support.factories import insert_analysis

    engine = make_engine(database_url, max_connections=8)
    sessionmaker = make_sessionmaker(engine)
    for customer_media_id, title, data, _ in subset:
        analysis = await insert_analysis(
            sessionmaker, customer_media_id=customer_media_id, result_types=["core"], title=title
        )

        async def pieces(data: bytes = data) -> Any:
            yield data

        async with sessionmaker() as session, session.begin():
            await store_result(
                session, analysis.id, "core", pieces(), content_type="application/json"
            )
            await session.execute(
                sa.text("UPDATE analyses SET status='finished' WHERE id=:id"),
                {"id": analysis.id},
            )
    while await index_backlog(sessionmaker, limit=50):
        pass
    await engine.dispose()


async def time_api(database_url: str, rounds: int) -> dict[str, dict[str, float]]:
    from service.main import create_app
    from service.settings import Settings

    settings = Settings(
        database_url=SecretStr(database_url),
        valossa_api_key=SecretStr("k"),
        ingest_api_tokens=SecretStr("bench"),
        callback_signing_secret=SecretStr("s"),
    )
    app = create_app(settings)
    found: dict[str, dict[str, float]] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api",
            headers={"Authorization": "Bearer bench"},
        ) as api,
    ):
        for kind, queries in QUERIES.items():
            times, hits = [], []
            for query in queries:  # warm-up
                await api.get("/v1/search", params={"q": query})
            for _ in range(rounds):
                for query in queries:
                    started = time.perf_counter()
                    response = await api.get("/v1/search", params={"q": query})
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                    hits.append(len(response.json()["items"]))
            times.sort()
            found[kind] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                "media_per_page": statistics.mean(hits),
            }
    return found


async def time_naive(database_url: str) -> dict[str, float]:
    """Load and scan every stored core document of the subset, per query."""
    from service.analyses.results import ResultBody, stream_result
    from service.db import make_engine, make_sessionmaker

    engine = make_engine(database_url, max_connections=8)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        ids = list(
            await session.scalars(
                sa.text("SELECT analysis_id FROM stored_results WHERE result_type = 'core'")
            )
        )
    found = {}
    for kind, queries in QUERIES.items():
        times = []
        for query in queries:
            started = time.perf_counter()
            needle = query.lower()
            for analysis_id in ids:
                body = ResultBody(analysis_id, "core", "application/json", 0, "")
                doc = json.loads(b"".join([c async for c in stream_result(sessionmaker, body)]))
                for d in doc["detections"].values():
                    names = [m.get("name") or "" for m in d.get("a", {}).get("similar_to", [])]
                    if needle in (d.get("label") or "").lower() or any(
                        needle in n.lower() for n in names
                    ):
                        break
            times.append((time.perf_counter() - started) * 1000)
        found[kind] = round(statistics.median(times), 1)
    await engine.dispose()
    return found


def main(n_media: int, rounds: int) -> None:
    from service.migrate import upgrade_to_head
    from service.process.embedded_db import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="vi-bench-", dir="/tmp") as tmp:
        database = EmbeddedPostgres(Path(tmp) / "pg", cleanup=True)
        try:
            url = database.ensure_database()
            upgrade_to_head(url)
            libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            started = time.perf_counter()
            with multiprocessing.Pool(2) as pool:
                generated = pool.map(generate, range(n_media), chunksize=50)
            print(
                f"generated and extracted {n_media} media in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            started = time.perf_counter()
            asyncio.run(index_subset(url, generated[:SUBSET]))
            bulk_load(libpq, generated[SUBSET:])
            del generated
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                sizes = conn.execute(
                    "SELECT (SELECT count(*) FROM search_media),"
                    " (SELECT count(*) FROM search_occurrences),"
                    " (SELECT count(*) FROM search_speech),"
                    " pg_size_pretty(pg_database_size(current_database()))"
                ).fetchone()
            print(f"loaded in {time.perf_counter() - started:.0f} s: {sizes}", flush=True)
            api = asyncio.run(time_api(url, rounds))
            naive = asyncio.run(time_naive(url))
            for kind in QUERIES:
                print(
                    json.dumps(
                        {
                            "queries": kind,
                            **api[kind],
                            "corpus_media": n_media,
                            "naive_100_media_ms": naive[kind],
                            "naive_100_vs_indexed_p95": round(naive[kind] / api[kind]["p95_ms"], 1),
                        }
                    )
                )
        finally:
            database.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    main(args.media, args.rounds)
