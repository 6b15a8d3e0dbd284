"""`valossa-ingest analyze`, `status` and `get`: the CLI as a client of a running service.

Everything goes through the service's HTTP API with a CMS token (service/remote.py); a local
file goes through /v1/uploads (service/uploads/client.py). Lines for people go to stderr; what
a script wants (the analysis id, a result sent to stdout) goes to stdout.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from service.analyses.remote_results import is_uuid, prepare_out_dir, quoted, write_results
from service.remote import ExitCode, RemoteError, raise_for_problem, remote_client
from service.uploads.client import DEFAULT_PARALLEL, upload_local_file
from service.uploads.resume import ResumeFile, file_key

#: What an argument starts with to be sent as a URL (video_url) rather than read as a file.
URL_SCHEMES = ("http://", "https://", "s3://", "valossaupload://")
#: Seconds between two looks at an analysis with --wait.
WAIT_INTERVAL_S = 2.0
#: Looks in a row that may fail (the service restarting, say) before --wait gives up.
WAIT_FAILURES = 15
ENDED = frozenset({"finished", "failed", "canceled"})


async def analyze(
    console: Console,
    source: str,
    *,
    media_id: str,
    title: str | None,
    wait: bool,
    out: Path | None,
    parallel: int = DEFAULT_PARALLEL,
) -> ExitCode:
    """Submit a URL, or upload a local file and submit it; with `wait` or `out`, follow it
    to its end (and write its results to `out`)."""
    body: dict[str, Any] = {"customer_media_id": media_id}
    if title is not None:
        body["title"] = title
    headers: dict[str, str] = {}
    if out is not None:
        await prepare_out_dir(out)  # before anything is uploaded or analysed
    async with remote_client(timeout_s=120.0) as client:
        resume, key = ResumeFile(), ""
        if source.startswith(URL_SCHEMES):
            body["video_url"] = source
        else:
            path = Path(source)
            key = await _file_key(client, path)
            body["video_url"] = await _upload(console, client, path, resume, key, parallel)
            # A run retried after a lost answer must not analyse the same upload twice.
            digest = hashlib.sha256(body["video_url"].encode()).hexdigest()[:32]
            headers["Idempotency-Key"] = f"cli-upload-{digest}"
        response = await client.post("/v1/analyses", json=body, headers=headers)
        raise_for_problem(response)
        if key:
            resume.forget(key)
        analysis: dict[str, Any] = response.json()
        console.print(f"analysis {analysis['id']} of {media_id!r}: {analysis['status']}")
        print(analysis["id"], flush=True)
        if not (wait or out):
            return ExitCode.OK
        analysis = await follow(console, client, str(analysis["id"]))
        if analysis["status"] != "finished":
            reason = analysis["error"] or "no reason given"
            console.print(f"[red]✗[/red] the analysis ended {analysis['status']}: {reason}")
            return ExitCode.ANALYSIS_NOT_FINISHED
        console.print(f"[green]✓[/green] analysis {analysis['id']} finished")
        if out is not None:
            await write_results(console, client, analysis, out)
    return ExitCode.OK


async def _file_key(client: httpx.AsyncClient, path: Path) -> str:
    def check() -> str:
        if not path.is_file():
            raise RemoteError(f"{path} is not a file (nor a URL)", ExitCode.USAGE)
        if path.stat().st_size == 0:
            raise RemoteError(f"{path} is empty", ExitCode.USAGE)
        with path.open("rb"):  # readable
            pass
        return file_key(str(client.base_url), path)

    try:
        return await asyncio.to_thread(check)
    except OSError as exc:
        raise RemoteError(f"cannot read {path}: {exc.strerror or exc}", ExitCode.USAGE) from None


async def _upload(
    console: Console,
    client: httpx.AsyncClient,
    path: Path,
    resume: ResumeFile,
    key: str,
    parallel: int,
) -> str:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(f"uploading {path.name}", total=None)

        def started(received: int, size: int) -> None:
            if received:
                progress.console.print(f"resuming the upload of {path.name}: {received} bytes in")
            progress.update(task, total=size, completed=received)

        url = await upload_local_file(
            client,
            path,
            resume=resume,
            key=key,
            parallel=parallel,
            on_start=started,
            on_chunk=lambda size: progress.advance(task, size),
        )
    console.print(f"uploaded {path.name} as {url}")
    return url


async def follow(console: Console, client: httpx.AsyncClient, analysis_id: str) -> dict[str, Any]:
    """Poll the analysis until it ends, with a live status line; the ended analysis."""
    started = time.monotonic()
    failures = 0
    with console.status("waiting") as line:
        while True:
            try:
                response = await client.get(f"/v1/analyses/{analysis_id}")
                raise_for_problem(response)
            except (httpx.TransportError, RemoteError) as exc:
                failures += 1
                if failures >= WAIT_FAILURES or (
                    isinstance(exc, RemoteError) and exc.exit_code != ExitCode.SERVICE_ERROR
                ):
                    raise
            else:
                failures = 0
                analysis: dict[str, Any] = response.json()
                if analysis["status"] in ENDED:
                    return analysis
                line.update(describe(analysis, elapsed=time.monotonic() - started))
            await asyncio.sleep(WAIT_INTERVAL_S)


def describe(analysis: dict[str, Any], *, elapsed: float | None = None) -> str:
    """One line on where an analysis is: status, Valossa's status, progress, time, error."""
    parts = [f"{analysis['status']}"]
    valossa = analysis.get("valossa") or {}
    if valossa.get("status"):
        parts.append(f"Valossa: {valossa['status']}")
    progress = analysis.get("progress")
    if progress:
        total = progress.get("total_bytes")
        done = _size(progress["done_bytes"])
        parts.append(f"{done} of {_size(total)}" if total else f"{done} so far")
    if elapsed is not None:
        parts.append(f"{int(elapsed) // 60}m{int(elapsed) % 60:02d}s")
    if analysis.get("error"):
        parts.append(f"last error: {analysis['error']}")
    return " · ".join(parts)


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


async def status(console: Console, identifier: str) -> ExitCode:
    """Print where an analysis is (by its id) or the latest analysis of a media (by its
    customer_media_id)."""
    async with remote_client() as client:
        analysis = await find_analysis(client, identifier)
    console.print(f"analysis {analysis['id']} of {analysis['customer_media_id']!r}")
    console.print(f"  {describe(analysis)}")
    stored = [t for t, r in analysis["results"].items() if r["state"] == "stored"]
    if stored:
        console.print(f"  results: {', '.join(stored)}")
    if analysis.get("overdue"):
        console.print(f"  [yellow]overdue since {analysis['overdue_since']}[/yellow]")
    print(analysis["status"], flush=True)
    return ExitCode.OK


async def find_analysis(client: httpx.AsyncClient, identifier: str) -> dict[str, Any]:
    """The analysis with this id, else the latest analysis of the media with this id."""
    if is_uuid(identifier):
        response = await client.get(f"/v1/analyses/{identifier}")
        if response.status_code != 404:
            raise_for_problem(response)
            found: dict[str, Any] = response.json()
            return found
    response = await client.get(f"/v1/media/{quoted(identifier)}")
    if response.status_code == 404:
        raise RemoteError(f"no analysis and no media with id {identifier!r}", ExitCode.REFUSED)
    raise_for_problem(response)
    latest: dict[str, Any] = response.json()["latest_analysis"]
    return latest
