"""`valossa-ingest analyze FILE` through the service vs the documented `split` + `curl` recipe.

One run starts embedded Postgres, the emulator in a process of its own (as Valossa is
elsewhere; `--latency-ms` added to every call stands in for the round trip to it, and its
chunks are Valossa's 4 MiB) and our API in this process, then sends the same file both ways,
alternating, `--rounds` times:

  recipe   `split -d --bytes=<chunk>`, then one `curl -F ...` per chunk, in order, straight to
           the emulator (initialize, chunks, finalize), as Valossa's documentation shows
  cli      `valossa-ingest analyze FILE --id ...` as a user runs it: a new process, the file
           through POST /v1/uploads and parallel chunk PUTs that the service streams on to
           the emulator, finalize, then POST /v1/analyses

Both include their process start-up. Prints one JSON line with the medians and the ratio
recipe_s / cli_s (above 1: the CLI is faster), e.g.
    .venv/bin/python bench/upload_cli.py --size-mb 64 --latency-ms 80 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from pydantic import SecretStr
from upload_parallel import API_KEY, run_recipe

from service.main import create_app
from service.migrate import upgrade_to_head_async
from service.process.embedded_db import EmbeddedPostgres
from service.process.serving import bind_socket, serve_in_background
from service.settings import Settings

TOKEN = "bench-token"
REPO_ROOT = Path(__file__).resolve().parents[1]


async def run_cli(api_url: str, source: Path, media_id: str, parallel: int, cache: Path) -> float:
    """`valossa-ingest analyze FILE --id ...` in a new process; returns seconds."""
    env = {
        **os.environ,
        "VALOSSA_INGEST_URL": api_url,
        "VALOSSA_INGEST_TOKEN": TOKEN,
        "XDG_CACHE_HOME": str(cache),
    }
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", "analyze", str(source), "--id", media_id,
        "--parallel", str(parallel),
        env=env, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    elapsed = time.perf_counter() - started
    assert process.returncode == 0, err.decode()
    assert out.strip(), "no analysis id printed"
    return elapsed


def _remove_chunks(directory: Path) -> None:
    for chunk in directory.glob("supervideo.mp4.chunk*"):
        chunk.unlink()


@contextlib.asynccontextmanager
async def emulator_process(
    data_dir: Path, *, chunk_size: int, latency_ms: float
) -> AsyncIterator[str]:
    """`valossa-ingest emulator` in a process of its own; its URL."""
    probe = bind_socket()
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "VALOSSA_EMULATOR_API_KEYS": API_KEY}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", "emulator", "--port", str(port),
        "--chunk-size", str(chunk_size), "--latency-ms", str(latency_ms),
        "--data-dir", str(data_dir),
        env=env, cwd=REPO_ROOT, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/_emulator/config")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the emulator did not start")
        yield url
    finally:
        process.terminate()
        await process.wait()


async def cli_startup() -> float:
    """Seconds for `valossa-ingest --help`: the part of the CLI's time that is Python start-up."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", "--help",
        cwd=REPO_ROOT, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await process.wait() == 0
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> dict[str, object]:
    chunk_size = args.chunk_kb * 1024
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="vi-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        source = root / "supervideo.mp4"
        await asyncio.to_thread(source.write_bytes, os.urandom(size))
        database = await asyncio.to_thread(EmbeddedPostgres, root / "pg", cleanup=True)
        try:
            database_url = await asyncio.to_thread(database.ensure_database)
            await upgrade_to_head_async(database_url)
            async with contextlib.AsyncExitStack() as stack:
                emulator_url = await stack.enter_async_context(
                    emulator_process(
                        root / "emulator", chunk_size=chunk_size, latency_ms=args.latency_ms
                    )
                )
                settings = Settings(
                    database_url=SecretStr(database_url),
                    valossa_base_url=emulator_url,
                    valossa_api_key=SecretStr(API_KEY),
                    ingest_api_tokens=SecretStr(TOKEN),
                    callback_signing_secret=SecretStr("bench-secret"),
                    log_level="WARNING",
                )
                api = await stack.enter_async_context(serve_in_background(create_app(settings)))
                recipe, cli = [], []
                for round_ in range(args.rounds):
                    recipe.append(await run_recipe(emulator_url, source, size, chunk_size))
                    await asyncio.to_thread(_remove_chunks, root)
                    cli.append(
                        await run_cli(
                            api.url, source, f"bench-{round_}", args.parallel, root / "cache"
                        )
                    )
                startup = await cli_startup()
        finally:
            await asyncio.to_thread(database.stop)
    recipe_s, cli_s = statistics.median(recipe), statistics.median(cli)
    return {
        "size_mb": args.size_mb,
        "chunk_kb": args.chunk_kb,
        "chunks": -(-size // chunk_size),
        "latency_ms": args.latency_ms,
        "parallel": args.parallel,
        "rounds": args.rounds,
        "recipe_s": round(recipe_s, 3),
        "cli_s": round(cli_s, 3),
        "cli_startup_s": round(startup, 3),
        "recipe_over_cli": round(recipe_s / cli_s, 2),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--chunk-kb", type=int, default=4096, help="Valossa's chunk size")
    parser.add_argument("--latency-ms", type=float, default=80.0)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    if not (shutil.which("curl") and shutil.which("split")):
        raise SystemExit("the recipe needs curl and split")
    print(json.dumps(asyncio.run(main(parse_args()))))
