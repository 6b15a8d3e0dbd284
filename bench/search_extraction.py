"""Search extraction of large core documents: time and peak memory growth, streamed vs whole.

For the real 113-minute example (when ../shared is present) and a generated 3-hour film, the
document is stored in embedded Postgres as the worker stores it; then, each in a fresh
subprocess so peaks do not mix, (a) the real indexing path (chunks from Postgres -> ijson ->
rows in one transaction) and (b) the naive baseline (read the whole document and json.loads
it) report their time and peak RSS growth over the process's own baseline.

    .venv/bin/python bench/search_extraction.py
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REAL = REPO.parent / "shared" / "valossa-examples" / "core-1.3.1-charade.json"


def rss_mb() -> float:
    """The process's resident set now (from /proc; ru_maxrss only knows the lifetime peak)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


class PeakSampler:
    """Samples the RSS every 2 ms in a thread and keeps the highest value."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


async def _store(database_url: str, media: str, data: bytes) -> uuid.UUID:
    from service.analyses.results import store_result
    from service.db import make_engine, make_sessionmaker
    from tests.support.factories import insert_analysis

    engine = make_engine(database_url, max_connections=4)
    sessionmaker = make_sessionmaker(engine)
    analysis = await insert_analysis(sessionmaker, customer_media_id=media, result_types=["core"])

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 256 * 1024):
            yield data[start : start + 256 * 1024]

    async with sessionmaker() as session, session.begin():
        await store_result(session, analysis.id, "core", pieces(), content_type="application/json")
        await session.execute(
            sa.text("UPDATE analyses SET status='finished' WHERE id=:id"),
            {"id": analysis.id},
        )
    await engine.dispose()
    return analysis.id


async def _child(database_url: str, media: str, mode: str) -> dict[str, float]:
    from service.analyses.results import ResultBody, stream_result
    from service.db import make_engine, make_sessionmaker
    from service.search.indexing import reindex_media

    engine = make_engine(database_url, max_connections=4)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:  # warm the pool and imports before the baseline
        await session.execute(sa.text("SELECT 1"))
    base = rss_mb()
    started = time.perf_counter()
    sampler = PeakSampler().__enter__()
    if mode == "streamed":
        stats = await reindex_media(sessionmaker, media)
        rows = stats.detections + stats.occurrences + stats.speech_segments
    else:
        from service.analyses.models import Analysis

        async with sessionmaker() as session:
            analysis_id = await session.scalar(
                sa.select(Analysis.id).where(Analysis.customer_media_id == media)
            )
        body = ResultBody(analysis_id, "core", "application/json", 0, "")
        data = b"".join([chunk async for chunk in stream_result(sessionmaker, body)])
        doc = json.loads(data)
        rows = sum(1 + len(d.get("occs", [])) for d in doc["detections"].values())
    seconds = time.perf_counter() - started
    sampler.__exit__()
    await engine.dispose()
    return {"seconds": seconds, "rss_growth_mb": sampler.peak - base, "rows": rows}


def _run_child(database_url: str, media: str, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", database_url, media, mode],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    from service.emulator.metadata.core import build_core, typical_technical
    from service.emulator.metadata.inputs import ResultsInput
    from service.migrate import upgrade_to_head
    from service.process.embedded_db import EmbeddedPostgres

    documents: list[tuple[str, bytes]] = []
    if REAL.exists():
        documents.append(("real 1.3.1, 113 min", REAL.read_bytes()))
    else:
        print(f"(skipping the real example: {REAL} is absent)")
    film = ResultsInput(
        "bench-3h",
        {"media": {"video": {"url": "https://x/film.mp4"}, "title": "Three hours"}},
        typical_technical(3 * 3600.0),
        None,
    )
    documents.append(("generated 1.8.1, 180 min", json.dumps(build_core(film).doc).encode()))
    with tempfile.TemporaryDirectory(prefix="vi-bench-", dir="/tmp") as tmp:
        database = EmbeddedPostgres(Path(tmp) / "pg", cleanup=True)
        try:
            url = database.ensure_database()
            upgrade_to_head(url)
            print(
                f"{'document':<26} {'MB':>5} {'rows':>7} {'streamed s':>10} {'growth MB':>9}"
                f" {'json.loads s':>12} {'growth MB':>9} {'memory ratio':>12}"
            )
            for n, (name, data) in enumerate(documents):
                media = f"bench-{n}"
                asyncio.run(_store(url, media, data))
                streamed = _run_child(url, media, "streamed")
                whole = _run_child(url, media, "whole")
                ratio = whole["rss_growth_mb"] / max(streamed["rss_growth_mb"], 0.1)
                print(
                    f"{name:<26} {len(data) / 1e6:>5.1f} {int(streamed['rows']):>7}"
                    f" {streamed['seconds']:>10.2f} {streamed['rss_growth_mb']:>9.1f}"
                    f" {whole['seconds']:>12.2f} {whole['rss_growth_mb']:>9.1f} {ratio:>11.1f}x"
                )
        finally:
            database.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(asyncio.run(_child(sys.argv[2], sys.argv[3], sys.argv[4]))))
    else:
        main()
