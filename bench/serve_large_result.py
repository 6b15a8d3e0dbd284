"""Downloading a 100 MB stored core result from the API against a bare Starlette stream of the
same bytes, in one run, and whether any pooled database connection is lost on the way.

It starts embedded Postgres (or uses `--database-url`), migrates it, builds a core document of
`--size-mb` from the emulator's generator (distinct 113-minute documents in a JSON array, so
that gzip meets realistic metadata, not repeats in its window) and stores it twice:

  bench-large            as the worker stores it (`store_result`: 1 MiB chunks, each an LZ4
                         block, which Postgres stores as it is)
  bench-large-as-before  as the code before migration 0009 stored it: the bytes as they are,
                         compressed by Postgres (TOAST); what a baseline ref reads, and what
                         ours still serves for results stored before

then starts as processes of their own:

  bare   bench/bare_starlette.py: the same bytes from memory as a StreamingResponse, 1 MiB
         per chunk, with a Content-Length: the baseline
  ours   `valossa-ingest serve` (one process): GET /v1/media/{id}/metadata?type=core, as is
         (identity) and with `Accept-Encoding: gzip`; and identity of the copy as before

Each download is one `curl` (a new connection, the body to /dev/null), alternating the
variants for `--rounds` rounds; medians are reported with the rate ratio against bare, and
the CPU seconds of each download spent by the API process (`server_cpu_s`) and by its
Postgres backends (`postgres_cpu_s`, from /proc: a local server). The bytes are checked once
beforehand (sha256 of identity, of gzip decompressed, for both copies).
Connections: the backend pids of the API's connections (pg_stat_activity, by
application_name) after a first download and after all of them: a connection the pool had
to discard shows as a pid gone and a new one opened.

`--baseline-ref REF` also serves the copy as before from the code of a git ref (its
connections named apart in pg_stat_activity), alternated with ours.

Storage, per copy: the chunks' encoding, their TOAST compression (`pg_column_compression`),
the bytes Postgres sends and what they take on disk. For the copy as before the migration's
lz4 (where the server has it) is used; `--chunk-compression pglz|lz4` overrides it
(`--database-url` of a fresh, throwaway database: the bench alters its table).

    .venv/bin/python bench/serve_large_result.py --size-mb 100 --rounds 9 --baseline-ref d7f0f5f
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import statistics
import sys
import tempfile
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from http_round_trips import (
    AUTH,
    VIDEO_URL,
    Server,
    bare_app,
    cpu_seconds,
    database,
    our_api,
    source_tree,
)
from psycopg import sql
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from service.analyses import chunks
from service.analyses.models import Analysis, ResultChunk, StoredResult
from service.analyses.results import CHUNK_BYTES, STORED, store_result
from service.analyses.states import AnalysisStatus
from service.db import APPLICATION_NAME, make_engine, make_sessionmaker
from service.emulator.metadata import ResultsInput
from service.emulator.metadata.core import build_core, typical_technical
from service.migrate import upgrade_to_head_async

MEDIA_ID = "bench-large"
#: The same document, its chunks as written before migration 0009 (see store).
MEDIA_ID_AS_BEFORE = "bench-large-as-before"
BASELINE_NAME = "valossa-ingest-baseline"
DISTINCT_DOCUMENTS = 8


def write_document(path: Path, size_mb: int) -> int:
    """A JSON array of generated core documents, at least `size_mb` MB; its size."""
    documents = []
    for n in range(DISTINCT_DOCUMENTS):
        request = {"media": {"video": {"url": VIDEO_URL}, "title": f"Bench film {n}"}}
        inp = ResultsInput(f"bench-large-{n}", request, typical_technical(113 * 60.0), None)
        documents.append(json.dumps(build_core(inp).doc).encode())
    written = 0
    with path.open("wb") as out:
        out.write(b'{"bench_documents": [')
        n = 0
        while written < size_mb * 1_000_000:
            if n:
                out.write(b",")
            document = documents[n % DISTINCT_DOCUMENTS]
            out.write(document)
            written += len(document) + 1
            n += 1
        out.write(b"]}")
    return path.stat().st_size


async def store(database_url: str, document: Path, media_id: str, *, as_before: bool) -> None:
    """The document as the core of a finished analysis of `media_id`: stored as the worker
    stores it (LZ4 blocks, stored as they are), or `as_before` migration 0009 as the code
    before it wrote it: the bytes as they are, compressed by Postgres (TOAST, `compression`)."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            analysis = Analysis(
                id=uuid.uuid4(),
                customer_media_id=media_id,
                status=AnalysisStatus.FINISHED,
                video_url=VIDEO_URL,
                language="en-US",
                result_types=["core"],
                job_id=str(uuid.uuid4()),
                valossa_status="finished",
                finished_at=datetime.now(UTC),
            )
            session.add(analysis)
            await session.flush()
            if not as_before:
                await store_result(
                    session, analysis.id, "core", _pieces(document), content_type="application/json"
                )
                return
            data = await asyncio.to_thread(document.read_bytes)
            session.add(
                StoredResult(
                    analysis_id=analysis.id,
                    result_type="core",
                    state=STORED,
                    content_type="application/json",
                    size_bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
            await session.flush()
            for seq, start in enumerate(range(0, len(data), CHUNK_BYTES)):
                await session.execute(
                    insert(ResultChunk).values(
                        analysis_id=analysis.id,
                        result_type="core",
                        seq=seq,
                        encoding=chunks.IDENTITY,
                        data=data[start : start + CHUNK_BYTES],
                    )
                )
    finally:
        await engine.dispose()


async def _pieces(path: Path) -> Any:
    with path.open("rb") as source:
        while piece := source.read(CHUNK_BYTES):
            yield piece


async def check_bytes(api: Server, media_id: str, expected_sha256: str) -> None:
    """Identity is byte-identical; gzip decompresses to the same bytes."""
    async with httpx.AsyncClient(base_url=api.url, headers=AUTH, timeout=120) as client:
        for encoding in ("identity", "gzip"):
            digest = hashlib.sha256()
            inflate = zlib.decompressobj(31)
            async with client.stream(
                "GET", f"/v1/media/{media_id}/metadata", headers={"Accept-Encoding": encoding}
            ) as response:
                assert response.status_code == 200, response.status_code
                async for raw in response.aiter_raw():
                    digest.update(inflate.decompress(raw) if encoding == "gzip" else raw)
            assert digest.hexdigest() == expected_sha256, f"{encoding}: other bytes"


async def curl(url: str, *headers: str) -> dict[str, Any]:
    """One download with curl (body discarded): seconds, bytes, status."""
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{time_total} %{size_download} %{http_code}"]
    for header in headers:
        args += ["-H", header]
    proc = await asyncio.create_subprocess_exec(
        *args, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    seconds, size, status = out.decode().split()
    assert status == "200", status
    return {"s": float(seconds), "bytes": int(size)}


def named(database_url: str, application_name: str) -> str:
    """The URL with the connections' name in pg_stat_activity."""
    url = make_url(database_url).update_query_dict({"application_name": application_name})
    return url.render_as_string(hide_password=False)


def _libpq(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def set_storage(database_url: str, storage: str, compression: str | None = None) -> None:
    """How Postgres stores the chunk values written from now on: EXTERNAL (as they are: as
    migrated, for ours) or EXTENDED (compressed, with `compression` or the migration's
    choice if None: as before migration 0009, for the copy of the baseline ref)."""
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER TABLE result_chunks ALTER COLUMN data SET STORAGE {}").format(
                sql.SQL(storage)
            )
        )
        if compression is not None:
            conn.execute(
                sql.SQL("ALTER TABLE result_chunks ALTER COLUMN data SET COMPRESSION {}").format(
                    sql.Identifier(compression)
                )
            )


def stored_size(database_url: str, media_id: str) -> dict[str, Any]:
    """How one copy of the bench's result is stored: its chunks' encoding, their TOAST
    compression (none: stored as they are) and their size in and out of Postgres."""
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT string_agg(DISTINCT c.encoding, ','),"
            " string_agg(DISTINCT coalesce(pg_column_compression(c.data), 'none'), ','),"
            " sum(octet_length(c.data)), sum(pg_column_size(c.data)),"
            " current_setting('server_version')"
            " FROM result_chunks c JOIN analyses a ON a.id = c.analysis_id"
            " WHERE a.customer_media_id = %s",
            (media_id,),
        ).fetchone()
    assert row is not None
    encoding, compression, sent, stored, version = row
    return {
        "server_version": version,
        "encoding": encoding,
        "toast_compression": compression,
        "bytes_from_postgres": int(sent),
        "stored_bytes": int(stored),
    }


def backends_cpu(pids: set[int]) -> float:
    """CPU seconds so far of these Postgres backends (a local server: /proc)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):  # a connection closed meanwhile
            total += cpu_seconds(pid)
    return total


def backends(database_url: str) -> dict[str, set[int]]:
    """The pids of each API's connections (by application_name, on this database: a shared
    server may have other services of the same name)."""
    libpq = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, pid FROM pg_stat_activity"
            " WHERE application_name IN (%s, %s) AND datname = current_database()",
            (APPLICATION_NAME, BASELINE_NAME),
        ).fetchall()
    found: dict[str, set[int]] = {APPLICATION_NAME: set(), BASELINE_NAME: set()}
    for name, pid in rows:
        found[name].add(pid)
    return found


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vi-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        document = root / "core.json"
        size = await asyncio.to_thread(write_document, document, args.size_mb)
        sha256 = hashlib.sha256(document.read_bytes()).hexdigest()
        async with database(root, args.database_url) as database_url:
            await upgrade_to_head_async(database_url)
            await store(database_url, document, MEDIA_ID, as_before=False)
            compression = (
                None if args.chunk_compression == "as-migrated" else args.chunk_compression
            )
            await asyncio.to_thread(set_storage, database_url, "EXTENDED", compression)
            await store(database_url, document, MEDIA_ID_AS_BEFORE, as_before=True)
            await asyncio.to_thread(set_storage, database_url, "EXTERNAL")
            storage = {
                media_id: await asyncio.to_thread(stored_size, database_url, media_id)
                for media_id in (MEDIA_ID, MEDIA_ID_AS_BEFORE)
            }
            async with contextlib.AsyncExitStack() as stack:
                api = await stack.enter_async_context(our_api(database_url, args.log_level))
                bare = await stack.enter_async_context(bare_app(stream_file=document))
                await check_bytes(api, MEDIA_ID, sha256)
                await check_bytes(api, MEDIA_ID_AS_BEFORE, sha256)
                auth = f"Authorization: {AUTH['Authorization']}"
                path = f"/v1/media/{MEDIA_ID}/metadata?type=core"
                # The chunks a baseline ref wrote and reads (and ours still serves).
                path_as_before = f"/v1/media/{MEDIA_ID_AS_BEFORE}/metadata?type=core"
                identity = [auth, "Accept-Encoding: identity"]
                variants = {
                    "bare": (bare, f"{bare.url}/stream", []),
                    "identity": (api, api.url + path, identity),
                    "gzip": (api, api.url + path, [auth, "Accept-Encoding: gzip"]),
                    "identity, chunks as before 0009": (api, api.url + path_as_before, identity),
                }
                if args.baseline_ref:  # the same downloads from the code of the ref
                    tree = source_tree(args.baseline_ref, root)
                    # /healthz: the ref's /readyz refuses a database migrated further than
                    # it knows (0008 changed the chunks' compression, 0009 added their encoding;
                    # the ref serves the copy written as it wrote it).
                    old = await stack.enter_async_context(
                        our_api(
                            named(database_url, BASELINE_NAME), args.log_level, tree, "/healthz"
                        )
                    )
                    ref = f" @{args.baseline_ref}"
                    variants[f"identity{ref}"] = (old, old.url + path_as_before, identity)
                    variants[f"gzip{ref}"] = (
                        old,
                        old.url + path_as_before,
                        [auth, "Accept-Encoding: gzip"],
                    )
                for _, url, headers in variants.values():  # warm-up: pool, caches
                    await curl(url, *headers)
                before = await asyncio.to_thread(backends, database_url)
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
                for _ in range(args.rounds):
                    for name, (server, url, headers) in variants.items():
                        # The Postgres backends of the API serving it (none for bare).
                        pids = before[BASELINE_NAME if "@" in name else APPLICATION_NAME]
                        postgres = backends_cpu(pids) if name != "bare" else 0.0
                        cpu = cpu_seconds(server.pid)
                        run = await curl(url, *headers)
                        run["server_cpu_s"] = cpu_seconds(server.pid) - cpu
                        if name != "bare":
                            run["postgres_cpu_s"] = backends_cpu(pids) - postgres
                        runs[name].append(run)
                        print(json.dumps({"variant": name, **run}), file=sys.stderr, flush=True)
                await asyncio.sleep(0.5)  # a discarded connection is closed after the answer
                after = await asyncio.to_thread(backends, database_url)
    return {**report(runs, size, before, after, args), "storage": storage}


def report(
    runs: dict[str, list[dict[str, Any]]],
    size: int,
    before: dict[str, set[int]],
    after: dict[str, set[int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    seconds = {name: statistics.median(r["s"] for r in results) for name, results in runs.items()}

    def per_round(slower: str, faster: str) -> float:
        """The median over rounds of one round's ratio: downloads of one round ran seconds
        apart, so on a shared machine this moves less than a ratio of medians."""
        pairs = zip(runs[slower], runs[faster], strict=True)
        return round(statistics.median(a["s"] / b["s"] for a, b in pairs), 3)

    rows = {
        name: {
            "median_s": round(seconds[name], 3),
            "all_s": [round(r["s"], 3) for r in results],
            "MB_per_s": round(size / 1e6 / seconds[name]),
            "rate_vs_bare": round(seconds["bare"] / seconds[name], 3),
            "rate_vs_bare_per_round": per_round("bare", name),
            "bytes_sent": results[0]["bytes"],
            "server_cpu_s": round(statistics.median(r["server_cpu_s"] for r in results), 3),
            "postgres_cpu_s": round(
                statistics.median(r.get("postgres_cpu_s", 0.0) for r in results), 3
            ),
        }
        for name, results in runs.items()
    }
    for name, row in rows.items():
        old = f"{name} @{args.baseline_ref}"
        if old in seconds:
            row["speed_vs_ref"] = round(seconds[old] / seconds[name], 2)
            row["speed_vs_ref_per_round"] = per_round(old, name)
    return {
        "size_bytes": size,
        "rounds": args.rounds,
        "downloads": rows,
        "goal_identity_rate_vs_bare": {
            "ratio": rows["identity"]["rate_vs_bare"],
            "per_round": rows["identity"]["rate_vs_bare_per_round"],
            "met": rows["identity"]["rate_vs_bare"] >= 0.30,
        },
        # The API's connections after the warm-up downloads and after all the others: a
        # connection the pool discarded shows as a pid lost and another opened.
        "pooled_connections": {
            "ours" if name == APPLICATION_NAME else f"@{args.baseline_ref}": {
                "before": len(before[name]),
                "after": len(after[name]),
                "lost": len(before[name] - after[name]),
                "opened": len(after[name] - before[name]),
            }
            for name in before
            if before[name] or after[name]
        },
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of our API")
    parser.add_argument("--database-url", help="an existing database (default: embedded)")
    parser.add_argument(
        "--chunk-compression",
        choices=["as-migrated", "pglz", "lz4"],
        default="as-migrated",
        help="TOAST compression of the copy as before 0009, instead of the migration's choice",
    )
    parser.add_argument(
        "--baseline-ref", help="also download from the code of this git ref (e.g. main)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args())), indent=2))
