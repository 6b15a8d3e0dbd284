"""Valossa calls per analysis and "Valossa finished -> metadata stored" latency.

Three ways of following the same N jobs, measured in one run against the in-process emulator:
- `callbacks`: our pipeline as deployed (callback -> immediate job_status -> results);
- `poll-only`: our pipeline with every callback lost (the poller honours poll_again_after_seconds);
- `naive`: the baseline a hand-written script does: job_status every POLL_S seconds, then results.
Prints one JSON line per scenario and the ratios against the naive baseline.

    .venv/bin/python bench/pipeline_calls.py --jobs 10 --clip-s 20 --naive-poll-s 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.emulator.app import create_emulator_app
from service.emulator.media import write_sample_video
from service.emulator.settings import EmulatorSettings
from service.main import create_app
from service.migrate import upgrade_to_head_async
from service.process.embedded_db import EmbeddedPostgres
from service.process.serving import bind_socket, serve_in_background
from service.resources import open_resources
from service.settings import Settings
from service.valossa import MediaUrl, NewJobMedia, ValossaClient
from service.worker import Worker

KEY = "bench-key"
RESULT_TYPES = ["core", "speech_to_text_srt"]


class CountingTransport(httpx.AsyncHTTPTransport):
    """Counts Valossa calls by function name."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[request.url.path.rsplit("/", 1)[-1]] += 1
        return await super().handle_async_request(request)


def _ts(raw: str) -> float:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


async def _ended_at(admin: httpx.AsyncClient) -> dict[str, float]:
    jobs = (await admin.get("/_emulator/jobs")).json()["jobs"]
    return {j["job_id"]: _ts(j["ended_at"]) for j in jobs if j.get("ended_at")}


async def run_pipeline(
    database_url: str, emulator_url: str, video_url: str, jobs: int, *, drop: bool
) -> dict[str, Any]:
    """Our pipeline: N analyses through API + worker; count calls, measure latency."""
    async with httpx.AsyncClient(base_url=emulator_url) as admin:
        await admin.post("/_emulator/reset")
        await admin.patch("/_emulator/config", json={"callback_drop_rate": 1.0 if drop else 0.0})
        sock = bind_socket()
        settings = Settings(
            database_url=SecretStr(database_url),
            valossa_base_url=emulator_url,
            valossa_api_key=SecretStr(KEY),
            public_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
            ingest_api_tokens=SecretStr("bench"),
            callback_signing_secret=SecretStr("bench-secret"),
            tick_interval_s=1.0,
            poll_min_interval_s=1.0,
            poll_max_interval_s=60.0,
        )
        counting = CountingTransport()
        async with (
            serve_in_background(create_app(settings), sock=sock) as api_server,
            open_resources(settings, valossa_transport=counting) as resources,
            httpx.AsyncClient(
                base_url=api_server.url, headers={"Authorization": "Bearer bench"}
            ) as api,
        ):
            worker = Worker(resources, name="bench")
            async with worker.running():
                ids = []
                for n in range(jobs):
                    await asyncio.sleep(_stagger(n, jobs) - _stagger(n - 1, jobs) if n else 0)
                    body = {
                        "customer_media_id": f"bench-{drop}-{n}",
                        "video_url": video_url,
                        "result_types": RESULT_TYPES,
                    }
                    ids.append((await api.post("/v1/analyses", json=body)).json()["id"])
                views = [await _wait_finished(api, analysis_id) for analysis_id in ids]
            ended = await _ended_at(admin)
    latencies = [_ts(view["finished_at"]) - ended[view["valossa"]["job_id"]] for view in views]
    return _summary("poll-only" if drop else "callbacks", counting.calls, jobs, latencies)


async def _wait_finished(api: httpx.AsyncClient, analysis_id: str) -> dict[str, Any]:
    while True:
        view: dict[str, Any] = (await api.get(f"/v1/analyses/{analysis_id}")).json()
        if view["status"] in ("finished", "failed"):
            assert view["status"] == "finished", view
            return view
        await asyncio.sleep(0.2)


async def run_naive(emulator_url: str, video_url: str, jobs: int, poll_s: float) -> dict[str, Any]:
    """Baseline: new_job, then job_status every poll_s seconds, then results, per job."""
    counting = CountingTransport()
    async with (
        httpx.AsyncClient(base_url=emulator_url) as admin,
        httpx.AsyncClient(transport=counting, timeout=60) as http,
    ):
        await admin.post("/_emulator/reset")
        client = ValossaClient(http, api_key=KEY, base_url=emulator_url)

        async def follow(n: int) -> tuple[str, float]:
            await asyncio.sleep(_stagger(n, jobs))
            media = NewJobMedia(video=MediaUrl(url=video_url))
            job_id = (await client.new_job(media=media)).job_id
            # A cron-like poller's grid has nothing to do with when a job started.
            await asyncio.sleep(random.uniform(0, poll_s))
            while True:
                status = await client.job_status(job_id=job_id)
                if status.status in ("finished", "error"):
                    break
                await asyncio.sleep(poll_s)
            for result_type in RESULT_TYPES:
                async with client.job_results(job_id=job_id, type=result_type) as stream:
                    async for _ in stream.aiter_bytes():
                        pass
            return job_id, time.time()

        done = await asyncio.gather(*(follow(n) for n in range(jobs)))
        ended = await _ended_at(admin)
    latencies = [stored - ended[job_id] for job_id, stored in done]
    return _summary(f"naive-{poll_s:g}s", counting.calls, jobs, latencies)


def _stagger(n: int, jobs: int) -> float:
    """Spread job starts over one second, so polls and job ends do not fall in lockstep."""
    return n / jobs


def _summary(name: str, calls: Counter[str], jobs: int, latencies: list[float]) -> dict[str, Any]:
    return {
        "scenario": name,
        "jobs": jobs,
        "valossa_calls_per_job": round(sum(calls.values()) / jobs, 2),
        "job_status_per_job": round(calls["job_status"] / jobs, 2),
        "calls_by_function": dict(calls),
        "latency_median_s": round(statistics.median(latencies), 3),
        "latency_max_s": round(max(latencies), 3),
    }


async def main(jobs: int, clip_s: float, naive_poll_s: float, speed: float) -> None:
    with tempfile.TemporaryDirectory(prefix="vi-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        database = await asyncio.to_thread(EmbeddedPostgres, root / "pg", cleanup=True)
        try:
            database_url = await asyncio.to_thread(database.ensure_database)
            await upgrade_to_head_async(database_url)
            media_dir = root / "media"
            media_dir.mkdir()
            await asyncio.to_thread(write_sample_video, media_dir / "clip.mp4", duration_s=clip_s)
            emulator_settings = EmulatorSettings(
                api_keys=SecretStr(KEY), speed=speed, data_dir=root / "emulator"
            )
            media_app = Starlette(routes=[Mount("/", app=StaticFiles(directory=media_dir))])
            async with contextlib.AsyncExitStack() as stack:
                emulator = await stack.enter_async_context(
                    serve_in_background(create_emulator_app(emulator_settings))
                )
                media = await stack.enter_async_context(serve_in_background(media_app))
                video_url = f"{media.url}/clip.mp4"
                naive = await run_naive(emulator.url, video_url, jobs, naive_poll_s)
                rows = [
                    naive,
                    await run_pipeline(database_url, emulator.url, video_url, jobs, drop=False),
                    await run_pipeline(database_url, emulator.url, video_url, jobs, drop=True),
                ]
        finally:
            await asyncio.to_thread(database.stop)
    for row in rows:
        row["calls_vs_naive"] = round(
            row["valossa_calls_per_job"] / naive["valossa_calls_per_job"], 2
        )
        print(json.dumps(row))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--clip-s", type=float, default=20.0)
    parser.add_argument("--naive-poll-s", type=float, default=1.0)
    parser.add_argument("--speed", type=float, default=1.0, help="emulator clock speed")
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.clip_s, args.naive_poll_s, args.speed))
