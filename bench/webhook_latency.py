"""Valossa finished -> CMS webhook received: the code of a git ref (the baseline, by default
main when issue 17 was filed) against the working tree, in one run.

Each variant runs as real processes (`valossa-ingest migrate`, `serve`, `worker`, imported from
its own source tree) against a fresh database on one embedded Postgres, the in-process
emulator (callbacks on) and an in-process CMS endpoint that answers 204 at once. No setting of
the interval is passed: each variant runs with its own tree's default TICK_INTERVAL_S (printed
as `tick_interval_s`). Latency per analysis: the first arrival of its webhook minus the
emulator's end of the job (both on this process's clock); `stored_to_webhook` is the part after
the analysis finished (its results stored), i.e. the delivery's own share.
`--cms-delay-ms` makes the CMS take that long to answer (a real CMS does some work first).
The last line is the headline: the end-to-end p99 (median over the rounds) of each variant,
their ratio, and whether the working tree meets the goal (p99 < 1 s).

    .venv/bin/python bench/webhook_latency.py --jobs 100 --rounds 3 --cms-delay-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from git_refs import source_tree
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from service.emulator.app import create_emulator_app
from service.emulator.media import write_sample_video
from service.emulator.settings import EmulatorSettings
from service.process.embedded_db import EmbeddedPostgres
from service.process.serving import bind_socket, serve_in_background
from service.webhooks.signing import new_secret

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The baseline: main when issue 17 ("webhook p99 < 1 s with the default tick") was filed.
BASELINE_REF = "2a75c0f"
#: The goal for the end-to-end p99, in seconds.
GOAL_P99_S = 1.0
KEY = "bench-key"
TOKEN = "bench-token"


class Cms:
    """Records when each analysis's webhook first arrived (either payload shape)."""

    def __init__(self, answer_delay_s: float) -> None:
        self.answer_delay_s = answer_delay_s
        self.arrived: dict[str, float] = {}
        self.requests = 0
        self.changed = asyncio.Event()

    async def all_arrived(self, jobs: int) -> None:
        while len(self.arrived) < jobs:
            self.changed.clear()
            await self.changed.wait()

    async def endpoint(self, request: Request) -> Response:
        at = time.time()
        payload = json.loads(await request.body())
        job_id = (payload.get("data") or payload).get("valossa_job_id")
        self.requests += 1
        if job_id is not None:
            self.arrived.setdefault(job_id, at)
            self.changed.set()
        await asyncio.sleep(self.answer_delay_s)  # the CMS's own work before it answers
        return Response(status_code=204)


def default_tick_interval_s(tree: Path) -> float:
    """TICK_INTERVAL_S as the code in `tree` defaults it (no environment set)."""
    code = "from service.settings import Settings; "
    code += "print(Settings.model_fields['tick_interval_s'].default)"
    env = {k: v for k, v in os.environ.items() if k == "PATH" or k.startswith("LC_")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True
    ).stdout
    return float(out)


@contextlib.contextmanager
def processes(tree: Path, env: dict[str, str], api_port: int) -> Iterator[None]:
    """`serve` and `worker` of `tree` for the block (SIGTERM, then SIGKILL, at the end)."""

    def start(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args], cwd=tree, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    subprocess.run([sys.executable, "-m", "service.cli", "migrate"], cwd=tree, env=env, check=True)
    running = [start("serve", "--port", str(api_port)), start("worker", "--health-port", "0")]
    try:
        yield
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def run_variant(
    name: str,
    tree: Path,
    database_url: str,
    emulator_url: str,
    video_url: str,
    cms_url: str,
    cms: Cms,
    jobs: int,
    submit_interval_s: float,
    tick_interval_s: float | None,
) -> dict[str, Any]:
    port = bind_socket().getsockname()[1]
    env = {
        # Nothing else from this environment: TICK_INTERVAL_S stays at the tree's default.
        **{k: v for k, v in os.environ.items() if k == "PATH" or k.startswith("LC_")},
        "DATABASE_URL": database_url,
        "VALOSSA_BASE_URL": emulator_url,
        "VALOSSA_API_KEY": KEY,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "INGEST_API_TOKENS": TOKEN,
        "CALLBACK_SIGNING_SECRET": "bench-callback-secret",
        "CMS_WEBHOOK_URL": cms_url,
        "CMS_WEBHOOK_SECRET": new_secret(),  # the baseline ignores it
        "LOG_LEVEL": "WARNING",
    }
    if tick_interval_s is not None:  # a diagnosis: does the interval matter at all?
        env["TICK_INTERVAL_S"] = str(tick_interval_s)
    async with httpx.AsyncClient(base_url=emulator_url) as admin:
        await admin.post("/_emulator/reset")
        cms.arrived.clear()
        with processes(tree, env, port):
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            ) as api:
                await _ready(api)
                for n in range(jobs):
                    body = {"customer_media_id": f"{name}-{n}", "video_url": video_url}
                    response = await api.post("/v1/analyses", json=body)
                    response.raise_for_status()
                    await asyncio.sleep(submit_interval_s)  # job ends spread over the tick
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cms.all_arrived(jobs), timeout=120 + jobs)
                stored = await _stored_at(api)
        ended = await _ended_at(admin)
    arrived = {job: at for job, at in cms.arrived.items() if job in ended and job in stored}
    return {
        **_summary(name, jobs, sorted(at - ended[job] for job, at in arrived.items())),
        "stored_p50_s": round(statistics.median(stored[j] - ended[j] for j in arrived), 3),
        "stored_to_webhook": _summary(
            "stored -> webhook", jobs, sorted(at - stored[job] for job, at in arrived.items())
        ),
    }


async def _stored_at(api: httpx.AsyncClient) -> dict[str, float]:
    """When each analysis finished (its results stored), by Valossa job id."""
    found: dict[str, float] = {}
    cursor = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/analyses", params=params)).json()
        for view in page["items"]:
            if view["finished_at"] and view["valossa"]["job_id"]:
                found[view["valossa"]["job_id"]] = _ts(view["finished_at"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _ts(raw: str) -> float:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


async def _ready(api: httpx.AsyncClient) -> None:
    for _ in range(300):
        with contextlib.suppress(httpx.HTTPError):
            if (await api.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the API never became ready")


async def _ended_at(admin: httpx.AsyncClient) -> dict[str, float]:
    jobs = (await admin.get("/_emulator/jobs")).json()["jobs"]
    return {j["job_id"]: _ts(j["ended_at"]) for j in jobs if j.get("ended_at")}


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def _summary(name: str, jobs: int, latencies: list[float]) -> dict[str, Any]:
    if not latencies:
        return {"variant": name, "jobs": jobs, "webhooks": 0}
    return {
        "variant": name,
        "jobs": jobs,
        "webhooks": len(latencies),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(_quantile(latencies, 0.95), 3),
        "p99_s": round(_quantile(latencies, 0.99), 3),
        "max_s": round(latencies[-1], 3),
    }


@contextlib.asynccontextmanager
async def services(root: Path, clip_s: float, speed: float) -> AsyncIterator[tuple[str, str]]:
    """The emulator and the media server; their URLs."""
    media_dir = root / "media"
    media_dir.mkdir()
    await asyncio.to_thread(write_sample_video, media_dir / "clip.mp4", duration_s=clip_s)
    emulator_settings = EmulatorSettings(
        api_keys=SecretStr(KEY), speed=speed, data_dir=root / "emulator"
    )
    media_app = Starlette(routes=[Mount("/", app=StaticFiles(directory=media_dir))])
    async with (
        serve_in_background(create_emulator_app(emulator_settings)) as emulator,
        serve_in_background(media_app) as media,
    ):
        yield emulator.url, f"{media.url}/clip.mp4"


async def main(
    jobs: int,
    baseline_ref: str,
    clip_s: float,
    speed: float,
    cms_delay_ms: float,
    submit_interval_s: float,
    rounds: int,
    tick_interval_s: float | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="vi-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        database = await asyncio.to_thread(EmbeddedPostgres, root / "pg", cleanup=True)
        cms = Cms(cms_delay_ms / 1000)
        cms_app = Starlette(routes=[Route("/hooks", cms.endpoint, methods=["POST"])])
        rows: list[dict[str, Any]] = []
        try:
            async with (
                services(root, clip_s, speed) as (emulator_url, video_url),
                serve_in_background(cms_app) as cms_server,
            ):
                variants = [(f"baseline {baseline_ref}", baseline_ref), ("working tree", None)]
                trees = {
                    name: REPO_ROOT if ref is None else source_tree(ref, root)
                    for name, ref in variants
                }
                ticks = {name: default_tick_interval_s(tree) for name, tree in trees.items()}
                if tick_interval_s is not None:
                    ticks = dict.fromkeys(ticks, tick_interval_s)
                for round_ in range(rounds):  # alternated, so that noise hits both alike
                    for name, _ in variants:
                        database_url = database.ensure_database(f"bench_{len(rows)}")
                        row = await run_variant(
                            name,
                            trees[name],
                            database_url,
                            emulator_url,
                            video_url,
                            f"{cms_server.url}/hooks",
                            cms,
                            jobs,
                            submit_interval_s,
                            tick_interval_s,
                        )
                        row["round"] = round_ + 1
                        row["tick_interval_s"] = ticks[name]
                        print(json.dumps(row), flush=True)
                        rows.append(row)
        finally:
            await asyncio.to_thread(database.stop)
    ratios = _ratios(rows)
    print(json.dumps(ratios))
    print(json.dumps(_headline(ratios, rows)))


def _headline(ratios: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Valossa finished -> CMS webhook received, p99, each variant at its default tick."""
    (baseline, old), (ours, new) = ratios["medians"].items()
    ticks = {row["variant"]: row["tick_interval_s"] for row in rows}
    return {
        "headline": "Valossa finished -> CMS webhook received, p99 (median of the rounds)",
        baseline: {"p99_s": old["p99_s"], "tick_interval_s": ticks[baseline]},
        ours: {"p99_s": new["p99_s"], "tick_interval_s": ticks[ours]},
        "baseline_over_ours": round(old["p99_s"] / new["p99_s"], 2),
        f"goal_p99_below_{GOAL_P99_S:g}s_met": new["p99_s"] < GOAL_P99_S,
    }


def _ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds, per variant, and baseline / working tree."""
    medians: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(row["variant"] for row in rows):
        mine = [row for row in rows if row["variant"] == name]
        medians[name] = {
            "p50_s": statistics.median(r["p50_s"] for r in mine),
            "p99_s": statistics.median(r["p99_s"] for r in mine),
            "own_p50_s": statistics.median(r["stored_to_webhook"]["p50_s"] for r in mine),
            "own_p99_s": statistics.median(r["stored_to_webhook"]["p99_s"] for r in mine),
        }
    baseline, ours = medians.values()
    return {
        "medians": medians,
        "ratio_baseline_over_working_tree": {
            key: round(baseline[key] / ours[key], 1) for key in baseline if ours[key]
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    parser.add_argument("--clip-s", type=float, default=3.0)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument(
        "--cms-delay-ms", type=float, default=0.0, help="how long the CMS takes to answer"
    )
    parser.add_argument(
        "--submit-interval-s", type=float, default=0.1, help="pause between two submissions"
    )
    parser.add_argument("--rounds", type=int, default=1, help="baseline/outbox pairs to run")
    parser.add_argument(
        "--tick-interval-s",
        type=float,
        default=None,
        help="set TICK_INTERVAL_S for both variants (default: each tree's own default)",
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.jobs,
            args.baseline_ref,
            args.clip_s,
            args.speed,
            args.cms_delay_ms,
            args.submit_interval_s,
            args.rounds,
            args.tick_interval_s,
        )
    )
