"""`valossa-ingest get` and `analyze --out`: stored results, written byte for byte.

The media's current results are served by GET /v1/media/{id}/metadata; they are read with
`Accept-Encoding: identity`, so what is written is exactly what Valossa sent (checked against
the sha256 the service recorded), and written to a temporary name first, so a file at its
final name is always whole.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import sys
import uuid
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
from rich.console import Console

from service.remote import ExitCode, RemoteError, raise_for_problem, remote_client

#: File extension of each result type (JSON unless listed).
EXTENSIONS = {
    "speech_to_text_srt": "srt",
    "speech_to_text_vtt": "vtt",
    "speech_to_text_ttml": "ttml",
    "speech_to_text_avid_txt": "txt",
}


#: What a result type name looks like (Valossa's are `core`, `speech_to_text_srt`, ...). The
#: name comes from the service's answer and becomes a file name: nothing else may, so that no
#: answer (a proxy's, a compromised service's) can write outside --out DIR.
RESULT_TYPE_NAME = re.compile(r"[a-z0-9_]{1,64}")


def result_filename(result_type: str) -> str:
    """`<type>.<ext>`: core.json, speech_to_text_srt.srt..."""
    if not RESULT_TYPE_NAME.fullmatch(result_type):
        raise RemoteError(
            f"the service named a result type {result_type[:80]!r} that cannot be a file name; "
            "nothing was written for it",
            ExitCode.SERVICE_ERROR,
        )
    return f"{result_type}.{EXTENSIONS.get(result_type, 'json')}"


async def prepare_out_dir(out: Path) -> None:
    """Make --out DIR (and its parents) if needed and check it can be written, else a usage
    error in one line: found before an upload or an analysis rather than after it."""

    def prepare() -> None:
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "it is not a directory")
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "not writable")

    try:
        await asyncio.to_thread(prepare)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RemoteError(f"cannot write results to {out}: {reason}", ExitCode.USAGE) from None


async def write_results(
    console: Console, client: httpx.AsyncClient, analysis: dict[str, Any], out: Path
) -> None:
    """Write every stored result of a finished analysis to `out/<type>.<ext>`."""
    media_id = str(analysis["customer_media_id"])
    response = await client.get(f"/v1/media/{quoted(media_id)}")
    raise_for_problem(response)
    if response.json()["current_analysis_id"] != analysis["id"]:
        raise RemoteError(
            f"a newer analysis of {media_id!r} finished meanwhile; its results are the media's "
            f"now (get them with `valossa-ingest get {media_id} --type TYPE -o FILE`)",
            ExitCode.REFUSED,
        )
    await prepare_out_dir(out)
    stored = {t: r for t, r in analysis["results"].items() if r["state"] == "stored"}
    targets = {t: out / result_filename(t) for t in stored}  # every name checked first
    for result_type, result in stored.items():
        target = targets[result_type]
        size = await download_result(client, media_id, result_type, target, result["sha256"])
        console.print(f"wrote {target} ({size} bytes)")


async def download_result(
    client: httpx.AsyncClient,
    media_id: str,
    result_type: str,
    target: Path | None,
    sha256: str | None = None,
) -> int:
    """Stream one stored result of the media to `target` (stdout when None), byte for byte
    as Valossa sent it; checked against its sha256 (the ETag). Returns its size."""
    url = f"/v1/media/{quoted(media_id)}/metadata"
    params = {"type": result_type}
    # identity: the bytes written are the stored bytes, not a re-encoding of them.
    headers = {"Accept-Encoding": "identity"}
    async with client.stream("GET", url, params=params, headers=headers) as response:
        if not response.is_success:
            await response.aread()
            raise_for_problem(response)
        expected = sha256 or response.headers.get("etag", "").strip('"')
        digest = hashlib.sha256()
        partial = target.with_name(f".{target.name}.part") if target else None
        try:
            sink: IO[bytes] = partial.open("wb") if partial else sys.stdout.buffer
        except OSError as exc:
            raise RemoteError(
                f"cannot write {target}: {exc.strerror or exc}", ExitCode.USAGE
            ) from None
        size = 0
        try:
            async for piece in response.aiter_raw():
                digest.update(piece)
                size += len(piece)
                await asyncio.to_thread(sink.write, piece)
        finally:
            if partial:
                sink.close()
    if expected and digest.hexdigest() != expected:
        raise RemoteError(
            f"{result_type} arrived damaged (sha256 differs); try again", ExitCode.SERVICE_ERROR
        )
    if partial and target:
        partial.replace(target)
    else:
        sys.stdout.buffer.flush()
    return size


def quoted(media_id: str) -> str:
    """A media id as one URL path segment."""
    return quote(media_id, safe="")


async def get(console: Console, identifier: str, result_type: str, output: Path | None) -> ExitCode:
    """Write one result type of a media's current analysis to `output` (stdout when None).
    An analysis id stands for its media."""
    async with remote_client(timeout_s=300.0) as client:
        media_id = identifier
        if is_uuid(identifier):
            response = await client.get(f"/v1/analyses/{identifier}")
            if response.status_code != 404:
                raise_for_problem(response)
                media_id = str(response.json()["customer_media_id"])
                await _require_current(client, media_id, identifier)
        size = await download_result(client, media_id, result_type, output)
    if output is not None:
        console.print(f"wrote {output} ({size} bytes)")
    return ExitCode.OK


async def _require_current(client: httpx.AsyncClient, media_id: str, analysis_id: str) -> None:
    response = await client.get(f"/v1/media/{quoted(media_id)}")
    raise_for_problem(response)
    current = response.json()["current_analysis_id"]
    if current != analysis_id:
        now = f"analysis {current}'s" if current else "no analysis's"
        raise RemoteError(
            f"analysis {analysis_id} does not hold the current results of {media_id!r} ({now} "
            "do); only the current results are served",
            ExitCode.REFUSED,
        )


def is_uuid(value: str) -> bool:
    """True if `value` is written as a UUID (an analysis id)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
