"""Valossa calls per analysis and "Valossa finished -> results stored" latency, in one run.

Every scenario follows N jobs of the same clip through the in-process emulator; the pipeline
scenarios run our API and one worker in this process, each on a fresh database:

- `naive-60s`, `naive-1s`: the baselines a hand-written script is: new_job, job_status every
  60 s (or every 1 s) on a grid unrelated to the job's start, then the results;
- `callbacks`: our pipeline as deployed once its callbacks are trusted: WARM-UP analyses with
  working callbacks first (as a deployment that has been running has seen), until /metrics says
  `valossa_ingest_callbacks_trusted 1`; only the analyses after that are counted;
- `callbacks-lost`: a fresh deployment whose callbacks never arrive (it must follow Valossa's
  poll_again_after_seconds and make no more calls than it did before it trusted callbacks);
- `callbacks-stop`: warmed up like `callbacks`, then every callback is dropped from the moment
  half of the counted jobs have ended: the safety-net polls find the unannounced ends, trust is
  lost, and the rest falls back to Valossa's schedule. CALLBACK_SAFETY_POLL_S is
  `--stop-safety-poll-s` here (default 60 s rather than 900 s, so that the run ends in minutes);
- `silent`: the default result types (core and four transcripts) on a clip without an audio
  track, after a warm-up: job_results calls per analysis (a transcript is asked for only when
  core shows speech);
- `baseline <ref>`: the pipeline of a git ref (default: main when issue 17 was filed) in the same
  run, through that tree's own bench/pipeline_calls.py in a subprocess (its `callbacks` and
  `poll-only` rows, with the same jobs, clip and speed): what "no more calls than before" is
  measured against.

Calls are counted on the wire by function (and 404 answers). Latency: an analysis's
`finished_at` (written with its results, in the transaction that stores them) minus the
emulator's end of the job; for the naive scripts, the moment the last result was read.
Prints one JSON line per scenario, then the ratios against the baselines of the same run.

    .venv/bin/python bench/pipeline_calls.py --jobs 10 --clip-s 6 --speed 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from git_refs import source_tree
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.analyses.callback_trust import RECENT_JOBS
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
REPO_ROOT = Path(__file__).resolve().parents[1]
#: main when issue 17 ("trust working callbacks") was filed.
BASELINE_REF = "2a75c0f"
#: What the counted analyses ask for (the silent scenario leaves it to the default).
RESULT_TYPES = ["core", "speech_to_text_srt"]
#: As many warm-up analyses as callback_trust looks at: the window is all announced ends.
WARM_UP = RECENT_JOBS


class CountingTransport(httpx.AsyncHTTPTransport):
    """Counts Valossa calls by function name, and the 404 answers."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.not_found: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        function = request.url.path.rsplit("/", 1)[-1]
        self.calls[function] += 1
        response = await super().handle_async_request(request)
        if response.status_code == 404:
            self.not_found[function] += 1
        return response

    def clear(self) -> None:
        self.calls.clear()
        self.not_found.clear()


@dataclass
class Media:
    emulator_url: str
    clip_url: str
    silent_url: str


@dataclass
class Deployment:
    """Our API and one worker on one database, talking to the emulator."""

    api: httpx.AsyncClient
    counting: CountingTransport
    name: str
    submitted: list[str] = field(default_factory=list)

    async def submit(self, body: dict[str, Any]) -> str:
        body = {"customer_media_id": f"{self.name}-{len(self.submitted)}", **body}
        response = await self.api.post("/v1/analyses", json=body)
        response.raise_for_status()
        analysis_id: str = response.json()["id"]
        self.submitted.append(analysis_id)
        return analysis_id

    async def run(self, bodies: list[dict[str, Any]], spread_s: float) -> list[dict[str, Any]]:
        """Submit the analyses spread evenly over `spread_s`; their views once finished."""
        ids = []
        for n, body in enumerate(bodies):
            if n:
                await asyncio.sleep(spread_s / len(bodies))
            ids.append(await self.submit(body))
        return [await self.finished(analysis_id) for analysis_id in ids]

    async def finished(self, analysis_id: str) -> dict[str, Any]:
        while True:
            view: dict[str, Any] = (await self.api.get(f"/v1/analyses/{analysis_id}")).json()
            if view["status"] in ("finished", "failed"):
                assert view["status"] == "finished", view
                return view
            await asyncio.sleep(0.2)

    async def gauge(self, name: str) -> float:
        """A gauge of /metrics."""
        for line in (await self.api.get("/metrics")).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise LookupError(name)

    async def warm_up(self, media: Media, trust_ttl_s: float) -> dict[str, Any]:
        """WARM_UP analyses with working callbacks, until the deployment trusts them."""
        started = time.monotonic()
        await self.run([{"video_url": media.clip_url, "result_types": RESULT_TYPES}] * WARM_UP, 1.0)
        trusted = await self.gauge("valossa_ingest_callbacks_trusted")
        ratio = await self.gauge("valossa_ingest_callbacks_announced_ratio")
        # The worker reads callback health at most every `trust_ttl_s`: let it see the news.
        await asyncio.sleep(trust_ttl_s + 0.5)
        self.counting.clear()
        return {
            "warm_up_analyses": WARM_UP,
            "warm_up_s": round(time.monotonic() - started, 1),
            "trusted_after_warm_up": trusted == 1,
            "announced_ratio_after_warm_up": ratio,
        }


@contextlib.asynccontextmanager
async def deployment(
    name: str, database_url: str, media: Media, **settings: Any
) -> AsyncIterator[Deployment]:
    await upgrade_to_head_async(database_url)
    sock = bind_socket()
    config = Settings(
        database_url=SecretStr(database_url),
        valossa_base_url=media.emulator_url,
        valossa_api_key=SecretStr(KEY),
        public_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
        ingest_api_tokens=SecretStr("bench"),
        callback_signing_secret=SecretStr("bench-secret"),
        # The old bench's bounds, so that the fallback's calls compare with its figures.
        tick_interval_s=1.0,
        poll_min_interval_s=1.0,
        poll_max_interval_s=60.0,
        **settings,
    )
    counting = CountingTransport()
    async with (
        serve_in_background(create_app(config), sock=sock) as api_server,
        open_resources(config, valossa_transport=counting) as resources,
        httpx.AsyncClient(
            base_url=api_server.url, headers={"Authorization": "Bearer bench"}, timeout=30
        ) as api,
    ):
        worker = Worker(resources, name=f"bench-{name}")
        async with worker.running():
            yield Deployment(api, counting, name)


async def _emulator_config(media: Media, **config: Any) -> None:
    async with httpx.AsyncClient(base_url=media.emulator_url) as admin:
        (await admin.patch("/_emulator/config", json=config)).raise_for_status()


async def _ended_at(emulator_url: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=emulator_url) as admin:
        jobs = (await admin.get("/_emulator/jobs")).json()["jobs"]
    return {j["job_id"]: _ts(j["ended_at"]) for j in jobs if j.get("ended_at")}


def _ts(raw: str) -> float:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


async def _latencies(media: Media, views: list[dict[str, Any]]) -> list[float]:
    ended = await _ended_at(media.emulator_url)
    return [_ts(view["finished_at"]) - ended[view["valossa"]["job_id"]] for view in views]


def _quantile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _summary(
    name: str, counting: CountingTransport, jobs: int, latencies: list[float]
) -> dict[str, Any]:
    calls = counting.calls
    return {
        "scenario": name,
        "jobs": jobs,
        "valossa_calls_per_job": round(sum(calls.values()) / jobs, 2),
        "job_status_per_job": round(calls["job_status"] / jobs, 2),
        "job_results_per_job": round(calls["job_results"] / jobs, 2),
        "job_results_404_per_job": round(counting.not_found["job_results"] / jobs, 2),
        "calls_by_function": dict(calls),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p99_s": round(_quantile(latencies, 0.99), 3),
        "latency_max_s": round(max(latencies), 3),
    }


async def run_naive(media: Media, jobs: int, poll_s: float, spread_s: float) -> dict[str, Any]:
    """Baseline: new_job, then job_status every poll_s seconds, then results, per job."""
    counting = CountingTransport()
    async with httpx.AsyncClient(transport=counting, timeout=60) as http:
        client = ValossaClient(http, api_key=KEY, base_url=media.emulator_url)

        async def follow(n: int) -> tuple[str, float]:
            await asyncio.sleep(n * spread_s / jobs)
            job_id = (
                await client.new_job(media=NewJobMedia(video=MediaUrl(url=media.clip_url)))
            ).job_id
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
    ended = await _ended_at(media.emulator_url)
    latencies = [stored - ended[job_id] for job_id, stored in done]
    return _summary(f"naive-{poll_s:g}s", counting, jobs, latencies)


async def run_callbacks(
    database_url: str, media: Media, jobs: int, spread_s: float
) -> dict[str, Any]:
    await _emulator_config(media, callback_drop_rate=0.0)
    async with deployment("callbacks", database_url, media) as ours:
        warm = await ours.warm_up(media, trust_ttl_s=5.0)
        body = {"video_url": media.clip_url, "result_types": RESULT_TYPES}
        views = await ours.run([body] * jobs, spread_s)
        trusted_at_end = await ours.gauge("valossa_ingest_callbacks_trusted")
        summary = _summary("callbacks", ours.counting, jobs, await _latencies(media, views))
    return {**summary, **warm, "trusted_at_end": trusted_at_end == 1}


async def run_callbacks_lost(
    database_url: str, media: Media, jobs: int, spread_s: float
) -> dict[str, Any]:
    await _emulator_config(media, callback_drop_rate=1.0)
    try:
        async with deployment("lost", database_url, media) as ours:
            body = {"video_url": media.clip_url, "result_types": RESULT_TYPES}
            views = await ours.run([body] * jobs, spread_s)
            trusted_at_end = await ours.gauge("valossa_ingest_callbacks_trusted")
            summary = _summary(
                "callbacks-lost", ours.counting, jobs, await _latencies(media, views)
            )
    finally:
        await _emulator_config(media, callback_drop_rate=0.0)
    return {**summary, "trusted_at_end": trusted_at_end == 1}


async def run_callbacks_stop(
    database_url: str, media: Media, jobs: int, spread_s: float, safety_poll_s: float
) -> dict[str, Any]:
    """Trusted, then callbacks stop once half of the counted jobs have ended."""
    await _emulator_config(media, callback_drop_rate=0.0)
    try:
        async with deployment(
            "stop", database_url, media, callback_safety_poll_s=safety_poll_s
        ) as ours:
            warm = await ours.warm_up(media, trust_ttl_s=5.0)
            ended_before = len(await _ended_at(media.emulator_url))
            stopped_at: list[float] = []

            async def stop_half_way() -> None:
                # Polls the emulator's own list: nothing in it signals a job's end.
                for _ in range(100_000):
                    if len(await _ended_at(media.emulator_url)) >= ended_before + jobs // 2:
                        break
                    await asyncio.sleep(0.05)
                await _emulator_config(media, callback_drop_rate=1.0)
                stopped_at.append(time.time())

            stopper = asyncio.create_task(stop_half_way())
            body = {"video_url": media.clip_url, "result_types": RESULT_TYPES}
            views = await ours.run([body] * jobs, spread_s)
            await stopper
            trusted_at_end = await ours.gauge("valossa_ingest_callbacks_trusted")
            summary = _summary(
                "callbacks-stop", ours.counting, jobs, await _latencies(media, views)
            )
            ended = await _ended_at(media.emulator_url)
    finally:
        await _emulator_config(media, callback_drop_rate=0.0)
    late = [
        _ts(view["finished_at"]) - ended[view["valossa"]["job_id"]]
        for view in views
        if ended[view["valossa"]["job_id"]] >= stopped_at[0]
    ]
    return {
        **summary,
        **warm,
        "safety_poll_s": safety_poll_s,
        "jobs_ended_after_stop": len(late),
        "after_stop_latency_p50_s": round(statistics.median(late), 3) if late else None,
        "after_stop_latency_max_s": round(max(late), 3) if late else None,
        "trusted_at_end": trusted_at_end == 1,
    }


async def run_silent(database_url: str, media: Media, jobs: int, spread_s: float) -> dict[str, Any]:
    """The default result types on a clip with no audio: transcripts only if core has speech."""
    await _emulator_config(media, callback_drop_rate=0.0)
    async with deployment("silent", database_url, media) as ours:
        await ours.warm_up(media, trust_ttl_s=5.0)
        views = await ours.run([{"video_url": media.silent_url}] * jobs, spread_s)
        summary = _summary("silent", ours.counting, jobs, await _latencies(media, views))
    absent = Counter(
        name for view in views for name, r in view["results"].items() if r["state"] == "absent"
    )
    return {**summary, "absent_types": dict(absent)}


def run_baseline_ref(ref: str, root: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The pipeline rows of `ref`'s own bench/pipeline_calls.py, run on its own code."""
    tree = source_tree(ref, root, ("service", "migrations", "bench"))
    env = {**os.environ, "PYTHONPATH": str(tree)}  # its `service`, not the working tree's
    command = [sys.executable, "bench/pipeline_calls.py", "--jobs", str(args.jobs)]
    command += ["--clip-s", str(args.clip_s), "--speed", str(args.speed)]
    out = subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True).stdout
    rows = []
    for line in out.decode().splitlines():
        row = json.loads(line)
        if row["scenario"] in ("callbacks", "poll-only"):
            # Its latency fields are the median and the maximum (p99 of 10 jobs is the max).
            row["scenario"] = f"baseline {ref} {row['scenario']}"
            row["latency_p50_s"] = row.pop("latency_median_s")
            row["latency_p99_s"] = row["latency_max_s"]
            rows.append(row)
    return rows


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="vi-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        database = await asyncio.to_thread(EmbeddedPostgres, root / "pg", cleanup=True)
        rows: list[dict[str, Any]] = []
        try:
            media_dir = root / "media"
            media_dir.mkdir()
            await asyncio.to_thread(
                write_sample_video, media_dir / "clip.mp4", duration_s=args.clip_s
            )
            await asyncio.to_thread(
                write_sample_video, media_dir / "silent.mp4", duration_s=args.clip_s, audio=False
            )
            emulator_settings = EmulatorSettings(
                api_keys=SecretStr(KEY), speed=args.speed, data_dir=root / "emulator"
            )
            media_app = Starlette(routes=[Mount("/", app=StaticFiles(directory=media_dir))])
            async with (
                serve_in_background(create_emulator_app(emulator_settings)) as emulator,
                serve_in_background(media_app) as server,
            ):
                media = Media(emulator.url, f"{server.url}/clip.mp4", f"{server.url}/silent.mp4")
                jobs, spread = args.jobs, args.spread_s

                def fresh(name: str) -> str:
                    return database.ensure_database(f"bench_{name}")

                scenarios = {
                    "naive-60s": lambda: run_naive(media, jobs, 60.0, spread),
                    "naive-1s": lambda: run_naive(media, jobs, 1.0, spread),
                    "callbacks": lambda: run_callbacks(fresh("callbacks"), media, jobs, spread),
                    "callbacks-lost": lambda: run_callbacks_lost(
                        fresh("lost"), media, jobs, spread
                    ),
                    "callbacks-stop": lambda: run_callbacks_stop(
                        fresh("stop"), media, jobs, args.stop_spread_s, args.stop_safety_poll_s
                    ),
                    "silent": lambda: run_silent(fresh("silent"), media, jobs, spread),
                }
                for name in args.only or list(scenarios):
                    row = await scenarios[name]()
                    print(json.dumps(row), flush=True)
                    rows.append(row)
            if args.baseline_ref:
                for row in await asyncio.to_thread(run_baseline_ref, args.baseline_ref, root, args):
                    print(json.dumps(row), flush=True)
                    rows.append(row)
        finally:
            await asyncio.to_thread(database.stop)
    print(json.dumps(_ratios(rows)))


def _ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each scenario against the naive baselines of this run (when they ran)."""
    by_name = {row["scenario"]: row for row in rows}
    out: dict[str, Any] = {}
    for row in rows:
        mine: dict[str, float] = {}
        if (slow := by_name.get("naive-60s")) and slow["job_status_per_job"]:
            mine["job_status_vs_naive_60s"] = round(
                row["job_status_per_job"] / slow["job_status_per_job"], 2
            )
            mine["calls_vs_naive_60s"] = round(
                row["valossa_calls_per_job"] / slow["valossa_calls_per_job"], 2
            )
        if fast := by_name.get("naive-1s"):
            mine["calls_vs_naive_1s"] = round(
                row["valossa_calls_per_job"] / fast["valossa_calls_per_job"], 2
            )
            mine["p99_vs_naive_1s"] = round(row["latency_p99_s"] / fast["latency_p99_s"], 2)
        out[row["scenario"]] = mine
    for new, old in (("callbacks", "callbacks"), ("callbacks-lost", "poll-only")):
        before = next((r for r in rows if r["scenario"].endswith(f" {old}")), None)
        if before is not None and new in by_name:
            out[new]["calls_vs_before"] = round(
                by_name[new]["valossa_calls_per_job"] / before["valossa_calls_per_job"], 2
            )
            out[new]["job_status_vs_before"] = round(
                by_name[new]["job_status_per_job"] / before["job_status_per_job"], 2
            )
    return {"ratios": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="counted analyses per scenario")
    parser.add_argument("--clip-s", type=float, default=6.0)
    parser.add_argument("--speed", type=float, default=2.0, help="emulator clock speed")
    parser.add_argument(
        "--spread-s", type=float, default=1.0, help="submissions spread over this many seconds"
    )
    parser.add_argument(
        "--stop-spread-s",
        type=float,
        default=20.0,
        help="callbacks-stop: submissions spread wider, so that jobs end before and after",
    )
    parser.add_argument(
        "--stop-safety-poll-s",
        type=float,
        default=60.0,
        help="callbacks-stop: CALLBACK_SAFETY_POLL_S (900 by default in production)",
    )
    parser.add_argument(
        "--baseline-ref",
        default=BASELINE_REF,
        help="the git ref whose pipeline is the 'before' baseline ('' to skip it)",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=[
            "naive-60s",
            "naive-1s",
            "callbacks",
            "callbacks-lost",
            "callbacks-stop",
            "silent",
        ],
    )
    asyncio.run(main(parser.parse_args()))
