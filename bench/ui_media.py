"""Is the operator page's media page bounded? Every SQL statement it runs, EXPLAIN ANALYZEd, for a
small media and a 3-hour film in a corpus of N indexed media, and the pages' times over ASGI.

Builds the corpus as bench/search_corpus.py does (emulator metadata through the real extractor;
the first 100 media and the film through the worker's own path: stored, then indexed by the
backlog sweep; the rest with COPY), adds the real 113-minute example when ../shared has it, then
signs in to /ui and, per case, times the page (median) and records the plans: scans, rows read,
buffers. A statement that reads another media's rows (a Seq Scan on an index table, or more rows
than the media has) is flagged.

    .venv/bin/python bench/ui_media.py --media 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import search_corpus  # noqa: E402

from service.emulator.metadata import GalleryFace, ResultsInput  # noqa: E402
from service.emulator.metadata.core import build_core, typical_technical  # noqa: E402

FILM = "film-3h"
CHARADE = REPO.parent / "shared" / "valossa-examples" / "core-1.3.1-charade.json"
INDEX_TABLES = ("search_occurrences", "search_detections", "search_faces", "search_speech")
CASES = {
    "small media, first minute": "/ui/media/media-00001",
    "3-hour film, first minute": f"/ui/media/{FILM}",
    "3-hour film, 600 s at 2:00:00": f"/ui/media/{FILM}?start=7200&end=7800",
    "3-hour film, faces only": f"/ui/media/{FILM}?type=human.face",
    "real 113-min example, first minute": "/ui/media/charade",
}


def film() -> tuple[str, str, bytes, dict[str, Any]]:
    """A generated 3-hour film with a trained face, as search_corpus.generate shapes media."""
    face = GalleryFace("bench-gallery", "face-film", "Emilia Example", "female")
    inp = ResultsInput(
        "bench-film",
        {"media": {"video": {"url": "https://x/film.mp4"}, "title": "Three-hour film"}},
        typical_technical(3 * 3600),
        None,
        (face,),
    )
    return FILM, "Three-hour film", json.dumps(build_core(inp).doc).encode(), {}


def _scans(plan: dict[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if "Relation Name" in plan or "Index Name" in plan:  # a Bitmap Index Scan has no relation
        loops = plan.get("Actual Loops", 1)
        found.append(
            {
                "node": plan["Node Type"],
                "table": plan.get("Relation Name", "its heap"),
                "index": plan.get("Index Name"),
                "rows_read": (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0))
                * loops,
            }
        )
    for child in plan.get("Plans", []):
        _scans(child, found)
    return found


async def _explain(engine: Any, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    explained = []
    async with engine.connect() as connection:
        for statement, parameters in statements:
            result = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
            )
            (plan,) = result.scalar_one()
            root = plan["Plan"]
            scans = _scans(root, [])
            explained.append(
                {
                    "sql": " ".join(statement.split())[:70],
                    "ms": round(plan["Execution Time"], 2),
                    "buffers": root.get("Shared Hit Blocks", 0) + root.get("Shared Read Blocks", 0),
                    "scans": [
                        f"{s['node']} on {s['table']}"
                        + (f" using {s['index']}" if s["index"] else "")
                        + f": {s['rows_read']:.0f} rows"
                        for s in scans
                    ],
                    "rows_read": max((s["rows_read"] for s in scans), default=0),
                    "seq_scans": sorted({s["table"] for s in scans if s["node"] == "Seq Scan"}),
                }
            )
    return explained


async def measure(database_url: str, rounds: int, sizes: dict[str, int]) -> dict[str, Any]:
    from service.main import create_app
    from service.settings import Settings

    settings = Settings(
        database_url=SecretStr(database_url),
        ingest_api_tokens=SecretStr("bench"),
        callback_signing_secret=SecretStr("bench-secret"),
    )
    app = create_app(settings)
    captured: list[tuple[str, Any]] = []
    capturing = False

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if capturing and statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    found: dict[str, Any] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as ui,
    ):
        form = await ui.get("/ui/sign-in")
        nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
        await ui.post("/ui/sign-in", data={"token": "bench", "nonce": nonce})
        engine = app.state.resources.engine
        for name, path in CASES.items():
            first = await ui.get(path)
            if first.status_code == 404:
                continue  # the real example is absent
            assert first.status_code == 200, (path, first.status_code, first.text[:500])
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                response = await ui.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            captured.clear()
            capturing = True
            await ui.get(path)
            capturing = False
            plans = await _explain(engine, list(captured))
            found[name] = {
                "page_ms_median": round(statistics.median(times), 1),
                "page_kb": round(len(first.content) / 1024),
                "statements": len(plans),
                "sql_ms_total": round(sum(p["ms"] for p in plans), 1),
                "rows_read_max": max(p["rows_read"] for p in plans),
                "seq_scans_on_index_tables": sorted(
                    {t for p in plans for t in p["seq_scans"]} & set(INDEX_TABLES)
                ),
                "plans": plans,
            }
        for kind, path in (("ui", "/ui/search?q=car"), ("api", "/v1/search?q=car")):
            headers = {"Authorization": "Bearer bench"} if kind == "api" else {}
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                response = await ui.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            found[f"search q=car, {kind}"] = {"ms_median": round(statistics.median(times), 1)}
    event.remove(Engine, "before_cursor_execute", capture)
    return {"table_rows": sizes, **found}


def main(n_media: int, rounds: int) -> None:
    from service.migrate import upgrade_to_head
    from service.process.embedded_db import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="vi-uimedia-", dir="/tmp") as tmp:
        database = EmbeddedPostgres(Path(tmp) / "pg", cleanup=True)
        try:
            url = database.ensure_database()
            upgrade_to_head(url)
            libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            started = time.perf_counter()
            with multiprocessing.Pool(2) as pool:
                generated = pool.map(search_corpus.generate, range(n_media), chunksize=50)
            through_worker = [*generated[: search_corpus.SUBSET], film()]
            if CHARADE.exists():
                through_worker.append(("charade", "Charade", CHARADE.read_bytes(), {}))
            asyncio.run(search_corpus.index_subset(url, through_worker))
            search_corpus.bulk_load(libpq, generated[search_corpus.SUBSET :])
            del generated, through_worker
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                sizes = {
                    table: _scalar(conn, f"SELECT count(*) FROM {table}")
                    for table in ("search_media", *INDEX_TABLES)
                }
                sizes["film_occurrences"] = _scalar(
                    conn,
                    "SELECT occurrences_count FROM search_media"
                    f" WHERE customer_media_id = '{FILM}'",
                )
            print(f"corpus ready in {time.perf_counter() - started:.0f} s: {sizes}", flush=True)
            print(json.dumps(asyncio.run(measure(url, rounds, sizes)), indent=2))
        finally:
            database.stop()


def _scalar(conn: psycopg.Connection[Any], sql: str) -> int:
    row = conn.execute(sql.encode()).fetchone()
    assert row is not None
    return int(row[0])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    main(args.media, args.rounds)
