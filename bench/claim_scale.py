"""Does a big history slow the claim of due work? Claim time with 1,000 live analyses, then
with the same live rows plus N finished ones, in one run on one embedded Postgres.

    .venv/bin/python bench/claim_scale.py --finished 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses.lifecycle import Lifecycle
from service.analyses.steps.leases import claim_backlog, claim_due
from service.db import make_engine, make_sessionmaker
from service.migrate import upgrade_to_head_async
from service.process.embedded_db import EmbeddedPostgres

LIVE_ROWS = 1000
ROUNDS = 50

_INSERT = """
INSERT INTO analyses (id, customer_media_id, status, video_url, language, result_types,
                      job_id, next_attempt_at, created_at, updated_at, finished_at)
SELECT gen_random_uuid(), 'media-' || n, :status, 'https://media.example/v.mp4', 'en-US',
       ARRAY['core'], :prefix || n, :due, now() - interval '1 day', now(), :finished
FROM generate_series(1, :count) AS n
"""


async def _insert(engine: AsyncEngine, *, count: int, status: str, prefix: str) -> None:
    due = "now()" if status != "finished" else "NULL"
    finished = "now()" if status == "finished" else "NULL"
    sql = _INSERT.replace(":due", due).replace(":finished", finished)
    async with engine.begin() as connection:
        await connection.execute(text(sql), {"status": status, "prefix": prefix, "count": count})
        await connection.execute(text("ANALYZE analyses"))


async def _time_claims(engine: AsyncEngine) -> dict[str, float]:
    """Median milliseconds of one due-claim and one backlog-claim (each rolled back)."""
    sessionmaker = make_sessionmaker(engine)
    lifecycle = Lifecycle(actor="bench", notify_cms=False)
    due_ms, backlog_ms = [], []
    for _ in range(ROUNDS):
        async with sessionmaker() as session:
            start = time.perf_counter()
            claimed = await claim_due(
                session, worker="bench", lease=timedelta(seconds=60), limit=10
            )
            due_ms.append((time.perf_counter() - start) * 1000)
            assert len(claimed) == 10
            await session.rollback()
        async with sessionmaker() as session:
            start = time.perf_counter()
            await claim_backlog(
                session,
                lifecycle,
                max_in_flight=LIVE_ROWS + 10,
                lease=timedelta(seconds=60),
                submit_deadline=timedelta(hours=1),
                limit=10,
            )
            backlog_ms.append((time.perf_counter() - start) * 1000)
            await session.rollback()
    return {
        "claim_due_ms": round(statistics.median(due_ms), 3),
        "claim_backlog_ms": round(statistics.median(backlog_ms), 3),
    }


async def _plan(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "EXPLAIN SELECT id FROM analyses WHERE status NOT IN "
                "('finished', 'failed', 'canceled') AND status IN ('submitted') "
                "AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 10"
            )
        )
        return " | ".join(row[0].strip() for row in rows)


async def main(finished: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vi-claim-", dir="/tmp") as tmp:
        database = await asyncio.to_thread(EmbeddedPostgres, Path(tmp), cleanup=True)
        try:
            url = await asyncio.to_thread(database.ensure_database)
            await upgrade_to_head_async(url)
            engine = make_engine(url)
            await _insert(engine, count=LIVE_ROWS // 2, status="submitted", prefix="live-")
            await _insert(engine, count=LIVE_ROWS // 2, status="pending", prefix="queued-")
            baseline = await _time_claims(engine)
            start = time.perf_counter()
            await _insert(engine, count=finished, status="finished", prefix="done-")
            load_s = time.perf_counter() - start
            loaded = await _time_claims(engine)
            plan = await _plan(engine)
            await engine.dispose()
        finally:
            await asyncio.to_thread(database.stop)
    print(
        json.dumps(
            {
                "live_rows": LIVE_ROWS,
                "finished_rows": finished,
                "baseline": baseline,
                "with_history": loaded,
                "claim_due_ratio": round(loaded["claim_due_ms"] / baseline["claim_due_ms"], 2),
                "claim_backlog_ratio": round(
                    loaded["claim_backlog_ms"] / baseline["claim_backlog_ms"], 2
                ),
                "history_insert_s": round(load_s, 1),
                "plan": plan,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().finished))
