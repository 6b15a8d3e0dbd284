"""How many job_status calls per second the emulator answers on one core.

The emulator runs as one uvicorn process (one core); the load comes from a separate process with
`--concurrency` keep-alive connections polling job_status for existing jobs for `--seconds`.
    .venv/bin/python bench/emulator_job_status.py --seconds 10 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time

import httpx
import uvicorn
import uvloop
from fastapi import FastAPI
from pydantic import SecretStr

from service.emulator.app import create_emulator_app
from service.emulator.settings import EmulatorSettings

API_KEY = "bench-key"


def _app() -> FastAPI:
    # Slow clock: jobs stay queued, so every answer is a live status, not a cached end state.
    settings = EmulatorSettings(api_keys=SecretStr(API_KEY), speed=0.001)
    return create_emulator_app(settings)


def _serve(port: int) -> None:
    uvicorn.run(_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_until_up(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            await client.get("/_emulator/config")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the emulator did not start")


async def _create_jobs(base_url: str, n_jobs: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await _wait_until_up(client)
        job_ids = []
        for i in range(n_jobs):
            answer = await client.post(
                "/core/1.0/new_job",
                json={
                    "api_key": API_KEY,
                    "media": {"video": {"url": f"http://127.0.0.1:9/{i}.mp4"}},
                },
            )
            job_ids.append(answer.json()["job_id"])
        return job_ids


async def _poll(port: int, paths: list[str], deadline: float, counts: list[int]) -> None:
    # A bare keep-alive HTTP/1.1 client: httpx costs more CPU per call than the emulator does,
    # and would measure itself.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
            i += 1
    finally:
        writer.close()


async def _load(port: int, seconds: float, concurrency: int, n_jobs: int) -> tuple[int, int]:
    job_ids = await _create_jobs(f"http://127.0.0.1:{port}", n_jobs)
    paths = [f"/core/1.0/job_status?api_key={API_KEY}&job_id={job_id}" for job_id in job_ids]
    counts = [0, 0]
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(_poll(port, paths[n:] + paths[:n], deadline, counts) for n in range(concurrency))
    )
    return counts[0], counts[1]


def main() -> None:
    """Start the emulator in its own process, load it, print calls per second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        started = time.perf_counter()
        ok, failed = uvloop.run(_load(port, args.seconds, args.concurrency, args.jobs))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.join()
    rate = ok / args.seconds
    print(
        f"job_status: {rate:.0f} calls/s on one emulator process "
        f"({ok} ok, {failed} failed, {args.concurrency} concurrent clients, {elapsed:.1f} s total)"
    )


if __name__ == "__main__":
    main()
