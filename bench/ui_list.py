"""Is the operator page fast with 100,000 analyses? Its list queries and gauges against the
naive way (OFFSET pages, full counts), the plans Postgres picks, and a whole page over ASGI.

    .venv/bin/python bench/ui_list.py --analyses 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses.flows.analyses import decode_cursor, encode_cursor
from service.analyses.metrics import read_gauges
from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker, make_engine, make_sessionmaker
from service.main import create_app
from service.migrate import upgrade_to_head_async
from service.process.embedded_db import EmbeddedPostgres
from service.settings import Settings
from service.ui import queries

ROUNDS = 30
PAGE = 51  # the page asks for one row more than it shows, to know whether there is a next page

# Of every 1,000 analyses: 960 finished, 20 failed, 10 canceled, 7 pending, 3 submitted (one of
# those past its deadline). Each finished one has a delivered webhook; a few are undelivered.
_INSERT = """
INSERT INTO analyses (id, customer_media_id, status, video_url, language, result_types, job_id,
                      next_attempt_at, deadline_at, created_at, updated_at, finished_at)
SELECT gen_random_uuid(), 'media-' || (n % 40000),
       CASE WHEN n % 1000 < 960 THEN 'finished' WHEN n % 1000 < 980 THEN 'failed'
            WHEN n % 1000 < 990 THEN 'canceled' WHEN n % 1000 < 997 THEN 'pending'
            ELSE 'submitted' END,
       'https://media.example/v.mp4', 'en-US', ARRAY['core'], 'job-' || n,
       CASE WHEN n % 1000 >= 990 THEN now() + interval '1 minute' END,
       CASE WHEN n % 1000 = 999 THEN now() - interval '1 hour'
            WHEN n % 1000 >= 990 THEN now() + interval '1 hour' END,
       now() - n * interval '1 minute', now(), now()
FROM generate_series(1, :count) AS n;
INSERT INTO webhooks (id, analysis_id, event_type, payload, attempts, status, delivered_at)
SELECT gen_random_uuid(), id, 'analysis.finished', '{}'::jsonb, 1,
       CASE WHEN abs(hashtext(id::text)) % 1000 <> 0 THEN 'delivered' ELSE 'pending' END,
       CASE WHEN abs(hashtext(id::text)) % 1000 <> 0 THEN now() END
FROM analyses WHERE status = 'finished';
ANALYZE analyses; ANALYZE webhooks;
"""

_NAIVE_COUNTS = """
SELECT status, count(*) FROM analyses GROUP BY status;
"""
_NAIVE_WEBHOOKS = (
    "SELECT count(*) FILTER (WHERE status = 'pending'), "
    "count(*) FILTER (WHERE status = 'failed') FROM webhooks"
)


async def _median_ms(action: Callable[[], Awaitable[Any]]) -> float:
    await action()  # warm the cache and the connection
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 3)


async def _ours(
    sessionmaker: SessionMaker, cursors: list[tuple[datetime, uuid.UUID]]
) -> dict[str, float]:
    cases: dict[str, dict[str, Any]] = {
        "first_page": {},
        "page_at_row_50000": {"before": cursors[0]},
        "page_at_row_95000": {"before": cursors[1]},
        "status_failed": {"status": AnalysisStatus.FAILED},
        "status_canceled_deep": {"status": AnalysisStatus.CANCELED, "before": cursors[0]},
        "customer_media_id": {"customer_media_id": "media-123"},
        "overdue": {"overdue_only": True},
    }
    timings = {}
    for name, filters in cases.items():
        arguments = {
            "status": None,
            "customer_media_id": None,
            "overdue_only": False,
            "before": None,
        }
        arguments.update(filters)

        async def page(arguments: dict[str, Any] = arguments) -> None:
            async with sessionmaker() as session:
                await queries.page_of_analyses(session, limit=PAGE, **arguments)

        timings[name] = await _median_ms(page)

    async def gauges() -> None:
        async with sessionmaker() as session:
            await read_gauges(session)

    timings["gauges"] = await _median_ms(gauges)
    return timings


async def _naive(engine: AsyncEngine, sessionmaker: SessionMaker) -> dict[str, float]:
    """The same pages by OFFSET (through the same ORM), the gauges by counting everything."""

    async def page(offset: int) -> None:
        async with sessionmaker() as session:
            query = select(Analysis).order_by(Analysis.created_at.desc(), Analysis.id.desc())
            list(await session.scalars(query.offset(offset).limit(PAGE)))

    async def run(sql: str) -> None:
        async with engine.connect() as connection:
            await connection.execute(text(sql))

    return {
        "first_page": await _median_ms(lambda: page(0)),
        "page_at_row_50000": await _median_ms(lambda: page(50_000)),
        "page_at_row_95000": await _median_ms(lambda: page(95_000)),
        "gauges": await _median_ms(
            lambda: asyncio.gather(run(_NAIVE_COUNTS), run(_NAIVE_WEBHOOKS))
        ),
    }


async def _plans(engine: AsyncEngine, deep: tuple[datetime, uuid.UUID]) -> dict[str, str]:
    statements = {
        "page": "SELECT id FROM analyses WHERE (created_at, id) < (:at, :id) "
        "ORDER BY created_at DESC, id DESC LIMIT 51",
        "status_canceled": "SELECT id FROM analyses WHERE status = 'canceled' "
        "ORDER BY created_at DESC, id DESC LIMIT 51",
        "overdue": "SELECT id FROM analyses WHERE status NOT IN ('finished', 'failed', 'canceled') "
        "AND (overdue_since IS NOT NULL OR deadline_at < now()) "
        "ORDER BY created_at DESC, id DESC LIMIT 51",
        "webhook_backlog": "SELECT count(*) FROM webhooks WHERE status IN ('pending', 'failed')",
    }
    plans = {}
    async with engine.connect() as connection:
        for name, sql in statements.items():
            rows = await connection.execute(text("EXPLAIN " + sql), {"at": deep[0], "id": deep[1]})
            plans[name] = " | ".join(row[0].strip() for row in rows)
    return plans


async def _page_over_http(settings: Settings) -> float:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            form = await client.get("/ui/sign-in")
            nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
            await client.post("/ui/sign-in", data={"token": "bench", "nonce": nonce})

            async def page() -> None:
                response = await client.get("/ui/analyses")
                assert response.status_code == 200

            return await _median_ms(page)


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vi-ui-", dir="/tmp") as tmp:
        database = await asyncio.to_thread(EmbeddedPostgres, Path(tmp), cleanup=True)
        try:
            url = await asyncio.to_thread(database.ensure_database)
            await upgrade_to_head_async(url)
            engine = make_engine(url)
            start = time.perf_counter()
            async with engine.begin() as connection:
                for statement in _INSERT.split(";\n"):
                    if statement.strip():
                        await connection.execute(text(statement.replace(":count", str(count))))
            load_s = time.perf_counter() - start
            cursors = [await _cursor_at(engine, row) for row in (50_000, 95_000)]
            sessionmaker = make_sessionmaker(engine)
            ours = await _ours(sessionmaker, cursors)
            naive = await _naive(engine, sessionmaker)
            plans = await _plans(engine, cursors[0])
            settings = Settings(
                database_url=url,  # type: ignore[arg-type]
                ingest_api_tokens="bench",  # type: ignore[arg-type]
                callback_signing_secret="bench-secret",  # type: ignore[arg-type]
            )
            http_ms = await _page_over_http(settings)
            await engine.dispose()
        finally:
            await asyncio.to_thread(database.stop)
    print(
        json.dumps(
            {
                "analyses": count,
                "load_s": round(load_s, 1),
                "ours_ms": ours,
                "naive_ms": naive,
                "naive_over_ours": {
                    name: round(naive[name] / ours[name], 1) for name in naive if name in ours
                },
                "analyses_page_over_asgi_ms": http_ms,
                "plans": plans,
            },
            indent=2,
        )
    )


async def _cursor_at(engine: AsyncEngine, offset: int) -> tuple[datetime, uuid.UUID]:
    """The keyset position a page's next_cursor carries after `offset` rows (through the real
    encoder and decoder)."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT created_at, id FROM analyses "
                    "ORDER BY created_at DESC, id DESC OFFSET :offset LIMIT 1"
                ),
                {"offset": offset - 1},
            )
        ).one()
    return decode_cursor(encode_cursor(row[0], row[1]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().analyses))
