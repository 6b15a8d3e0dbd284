"""`valossa-ingest analyze`, `status` and `get` as a CMS user runs them, against a live stack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from service.analyses.remote_results import result_filename
from service.db import SessionMaker
from service.remote import ExitCode
from service.uploads.models import Upload, UploadChunk
from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import Stack
from tests.support.emulator import EMULATOR_KEY, EmulatorHandle
from tests.support.waiting import eventually

CHUNK = 16 * 1024


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """The environment of a CMS user: the service's URL and token, a cache of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VALOSSA_", "DATABASE_"))}
    env |= {
        "VALOSSA_INGEST_URL": stack.api_url,
        "VALOSSA_INGEST_TOKEN": "test-token",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "COLUMNS": "200",
    }
    return env


@pytest.fixture
async def worker(stack: Stack) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        yield


async def _cli(*args: str, env: dict[str, str]) -> Ran:
    """Run the command without blocking the loop that serves the API and the worker."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", *args,
        env=env, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def _metadata(stack: Stack, media_id: str, result_type: str) -> bytes:
    response = await stack.api.get(
        f"/v1/media/{media_id}/metadata",
        params={"type": result_type},
        headers={"Accept-Encoding": "identity"},
    )
    assert response.status_code == 200
    return response.content


async def _at_valossa(emulator: EmulatorHandle, job_id: str, result_type: str) -> bytes:
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        response = await client.get(
            "/core/1.0/job_results",
            params={"api_key": EMULATOR_KEY, "job_id": job_id, "type": result_type},
        )
    assert response.status_code == 200
    return response.content


def _resume_entries(tmp_path: Path) -> dict[str, dict[str, str]]:
    path = tmp_path / "cache" / "valossa-ingest" / "uploads.json"
    return json.loads(path.read_text()) if path.exists() else {}


async def test_analyze_a_local_file_waits_and_writes_every_result(
    stack: Stack,
    emulator: EmulatorHandle,
    worker: None,
    cli_env: dict[str, str],
    media_dir: Path,
    tmp_path: Path,
) -> None:
    await emulator.configure(chunk_size=CHUNK)
    out = tmp_path / "results"
    clip = media_dir / "clip.mp4"
    ran = await _cli(
        "analyze", str(clip), "--id", "cli-1", "--title", "Clip", "--wait", "--out", str(out),
        env=cli_env,
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    analysis_id = ran.stdout.strip()
    analysis = (await stack.api.get(f"/v1/analyses/{analysis_id}")).json()
    assert analysis["status"] == "finished"
    assert analysis["inputs"]["title"] == "Clip"
    video_url = analysis["inputs"]["video_url"]
    upload_id = video_url.removeprefix("valossaupload://")
    assert (tmp_path / "emulator" / "uploads" / upload_id).read_bytes() == clip.read_bytes()
    stored = [t for t, r in analysis["results"].items() if r["state"] == "stored"]
    assert "core" in stored
    assert "speech_to_text_srt" in stored
    assert sorted(p.name for p in out.iterdir()) == sorted(result_filename(t) for t in stored)
    assert {"core.json", "speech_to_text_srt.srt"} <= {p.name for p in out.iterdir()}
    job_id = analysis["valossa"]["job_id"]
    for result_type in stored:
        written = (out / result_filename(result_type)).read_bytes()
        assert written == await _metadata(stack, "cli-1", result_type)
        assert written == await _at_valossa(emulator, job_id, result_type)
    assert "finished" in ran.stderr
    assert _resume_entries(tmp_path) == {}  # nothing left to resume


async def test_an_interrupted_upload_resumes_where_it_was(
    stack: Stack,
    emulator: EmulatorHandle,
    worker: None,
    cli_env: dict[str, str],
    media_dir: Path,
    tmp_path: Path,
    sessionmaker: SessionMaker,
) -> None:
    await emulator.configure(chunk_size=CHUNK, latency_ms=300)
    clip = media_dir / "clip.mp4"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", "analyze", str(clip), "--id", "resumed",
        "--parallel", "1",
        env=cli_env, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def three_chunks_in() -> list[UploadChunk] | None:
        async with sessionmaker() as session:
            chunks = list((await session.scalars(select(UploadChunk))).all())
        return chunks if len(chunks) >= 3 else None

    try:
        before = await eventually(three_chunks_in, within=60)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await process.communicate()
    assert process.returncode == 130
    assert "interrupted (run the same command again to resume)" in err.decode()
    assert len(_resume_entries(tmp_path)) == 1
    received_at = {chunk.chunk_index: chunk.received_at for chunk in before}

    await emulator.configure(latency_ms=0)
    ran = await _cli("analyze", str(clip), "--id", "resumed", "--wait", env=cli_env)
    assert ran.code == 0, ran.stderr
    assert "resuming the upload of clip.mp4" in ran.stderr
    async with sessionmaker() as session:
        uploads = (await session.scalars(select(Upload))).all()
        chunks = (await session.scalars(select(UploadChunk))).all()
    assert len(uploads) == 1  # the same upload, continued
    after = {chunk.chunk_index: chunk.received_at for chunk in chunks}
    assert len(after) == uploads[0].chunk_count
    for index, at in received_at.items():
        assert after[index] == at, f"chunk {index} was sent again"
    video_url = uploads[0].video_url
    assert video_url is not None
    upload_id = video_url.removeprefix("valossaupload://")
    assert (tmp_path / "emulator" / "uploads" / upload_id).read_bytes() == clip.read_bytes()
    assert _resume_entries(tmp_path) == {}


async def test_a_url_is_analysed_by_valossa_itself(
    stack: Stack, worker: None, cli_env: dict[str, str], media_url: str
) -> None:
    ran = await _cli("analyze", f"{media_url}/clip.mp4", "--id", "cli-url", "--wait", env=cli_env)
    assert ran.code == 0, ran.stderr
    analysis = (await stack.api.get(f"/v1/analyses/{ran.stdout.strip()}")).json()
    assert analysis["inputs"]["video_url"] == f"{media_url}/clip.mp4"
    assert analysis["status"] == "finished"


async def test_status_and_get(
    stack: Stack, worker: None, cli_env: dict[str, str], media_url: str, tmp_path: Path
) -> None:
    ran = await _cli("analyze", f"{media_url}/clip.mp4", "--id", "cli-get", "--wait", env=cli_env)
    analysis_id = ran.stdout.strip()
    by_id = await _cli("status", analysis_id, env=cli_env)
    by_media = await _cli("status", "cli-get", env=cli_env)
    assert (by_id.code, by_id.stdout) == (0, "finished\n")
    assert (by_media.code, by_media.stdout) == (0, "finished\n")
    assert analysis_id in by_media.stderr
    target = tmp_path / "core.json"
    got = await _cli("get", "cli-get", "--type", "core", "-o", str(target), env=cli_env)
    assert got.code == 0, got.stderr
    assert target.read_bytes() == await _metadata(stack, "cli-get", "core")
    to_stdout = await _cli("get", analysis_id, "--type", "speech_to_text_srt", env=cli_env)
    assert to_stdout.code == 0
    assert to_stdout.stdout.encode() == await _metadata(stack, "cli-get", "speech_to_text_srt")


async def test_a_failed_analysis_ends_wait_with_code_1(
    stack: Stack, worker: None, cli_env: dict[str, str], media_url: str
) -> None:
    ran = await _cli(
        "analyze", f"{media_url}/not-a-video.mp4", "--id", "cli-bad", "--wait", env=cli_env
    )
    assert ran.code == ExitCode.ANALYSIS_NOT_FINISHED
    assert "the analysis ended failed" in ran.stderr


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["analyze", "/no/such/file.mp4", "--id", "x"], {}, ExitCode.USAGE, "is not a file"),
        (["analyze", "https://m.example/v.mp4", "--id", ""], {}, ExitCode.REFUSED, "refused (422)"),
        (["status", "nobody"], {}, ExitCode.REFUSED, "no analysis and no media"),
        (["get", "nobody"], {}, ExitCode.REFUSED, "refused (404)"),
        (["status", "x"], {"VALOSSA_INGEST_TOKEN": "wrong"}, ExitCode.UNAUTHORIZED, "token"),
        (["status", "x"], {"VALOSSA_INGEST_TOKEN": ""}, ExitCode.USAGE, "VALOSSA_INGEST_TOKEN"),
        (
            ["status", "x"],
            {"VALOSSA_INGEST_URL": "http://127.0.0.1:9"},
            ExitCode.UNREACHABLE,
            "cannot reach the service",
        ),
    ],
)
async def test_errors_are_one_line_with_a_documented_code(
    cli_env: dict[str, str], args: list[str], env: dict[str, str], code: int, message: str
) -> None:
    ran = await _cli(*args, env={**cli_env, **env})
    assert ran.code == code, (ran.stdout, ran.stderr)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert message in lines[0]
