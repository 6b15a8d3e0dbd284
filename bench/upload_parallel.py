"""Parallel chunk upload vs the documented `split` + sequential `curl` recipe, on the emulator.

The emulator adds `--latency-ms` to every Valossa call (its fault injector), standing in for the
round trip to Valossa. Three runs upload the same file:

  recipe      `split -d --bytes=<chunk>` then one `curl -F ...` per chunk, in order (the docs)
  sequential  service.valossa.upload_file with parallelism=1 (same code, one chunk at a time)
  parallel    service.valossa.upload_file with parallelism=N

Ratios are reported against the baselines measured in the same run, e.g.
    .venv/bin/python bench/upload_parallel.py --size-mb 16 --chunk-kb 512 --latency-ms 80
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from service.emulator.app import create_emulator_app
from service.emulator.settings import EmulatorSettings
from service.process.serving import bind_socket, serve_in_background
from service.valossa import ValossaClient, make_http_client, upload_file

API_KEY = "bench-key"


async def run_recipe(base_url: str, source: Path, size: int, chunk_size: int) -> float:
    """The documented recipe: split the file, then send the chunks one curl at a time."""
    started = time.perf_counter()
    init = await _curl(
        f"{base_url}/core/1.0/initialize_file_upload",
        "-F", f"api_key={API_KEY}",
        "-F", f"file_size_bytes={size}",
    )  # fmt: skip
    upload_id = json.loads(init)["upload_id"]
    prefix = source.with_name(f"{source.name}.chunk")
    split = await asyncio.create_subprocess_exec(
        "split", "-d", "-a", "4", f"--bytes={chunk_size}", str(source), str(prefix)
    )
    assert await split.wait() == 0, "split failed"
    chunks = sorted(await asyncio.to_thread(lambda: list(source.parent.glob(f"{prefix.name}*"))))
    for index, chunk in enumerate(chunks):
        await _curl(
            f"{base_url}/core/1.0/send_file_chunk",
            "-F", f"api_key={API_KEY}",
            "-F", f"upload_id={upload_id}",
            "-F", f"chunk_index={index}",
            "-F", f"file_data=@{chunk}",
        )  # fmt: skip
    finalized = await _curl(
        f"{base_url}/core/1.0/finalize_file_upload",
        "-F", f"api_key={API_KEY}",
        "-F", f"upload_id={upload_id}",
    )  # fmt: skip
    assert json.loads(finalized)["uploaded_file_url"].startswith("valossaupload://")
    return time.perf_counter() - started


async def _curl(url: str, *args: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        "curl", "-sS", "--fail-with-body", *args, url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out
    return out


async def run_client(client: ValossaClient, source: Path, size: int, parallelism: int) -> float:
    """Upload with the client's helper; returns seconds."""
    started = time.perf_counter()
    url = await upload_file(client, source, size=size, parallelism=parallelism)
    assert url.startswith("valossaupload://")
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> dict[str, float | int]:
    chunk_size = args.chunk_kb * 1024
    settings = EmulatorSettings(
        api_keys=SecretStr(API_KEY), chunk_size=chunk_size, latency_ms=args.latency_ms
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    try:
        source = workdir / "supervideo.mp4"
        size = args.size_mb * 1024 * 1024
        await asyncio.to_thread(source.write_bytes, os.urandom(size))
        # Without TCP_NODELAY on the server side, every keep-alive request stalls ~40 ms on
        # Nagle + delayed ACK, which would hide the effect measured here.
        sock = bind_socket()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        async with (
            serve_in_background(create_emulator_app(settings), sock=sock) as server,
            make_http_client(max_connections=args.parallelism + 2) as http,
        ):
            client = ValossaClient(http, api_key=API_KEY, base_url=server.url)
            report: dict[str, float | int] = {
                "size_mb": args.size_mb,
                "chunk_kb": args.chunk_kb,
                "chunks": -(-size // chunk_size),
                "latency_ms": args.latency_ms,
                "parallelism": args.parallelism,
            }
            if shutil.which("curl") and shutil.which("split"):
                report["recipe_s"] = await run_recipe(server.url, source, size, chunk_size)
            report["sequential_s"] = await run_client(client, source, size, 1)
            report["parallel_s"] = await run_client(client, source, size, args.parallelism)
        report["speedup_vs_sequential"] = report["sequential_s"] / report["parallel_s"]
        if "recipe_s" in report:
            report["speedup_vs_recipe"] = report["recipe_s"] / report["parallel_s"]
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=16)
    parser.add_argument("--chunk-kb", type=int, default=512)
    parser.add_argument("--latency-ms", type=float, default=80.0)
    parser.add_argument("--parallelism", type=int, default=4)
    return parser.parse_args()


if __name__ == "__main__":
    result = asyncio.run(main(parse_args()))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
