"""Send a local file through a running service's /v1/uploads: parallel chunks, resumable.

The CLI's side of direct uploads. The upload id is remembered (resume.py) before the first
chunk, so a run that was interrupted asks the service which chunks arrived and sends only the
others. A chunk that failed for a passing reason (the service or Valossa unavailable, the
connection lost) is sent again a few times before the upload gives up.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from service.remote import ExitCode, RemoteError, raise_for_problem
from service.uploads.resume import ResumeFile

#: Chunks in flight at once.
DEFAULT_PARALLEL = 4
#: Tries of one chunk before the upload gives up (it can be resumed later).
CHUNK_TRIES = 5
#: Answers after which sending the same chunk again may succeed.
_TRANSIENT = frozenset({400, 408, 429, 500, 502, 503, 504})


async def upload_local_file(
    client: httpx.AsyncClient,
    path: Path,
    *,
    resume: ResumeFile,
    key: str,
    parallel: int = DEFAULT_PARALLEL,
    on_start: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> str:
    """Upload `path` (resuming the upload remembered under `key`) and return its video_url.

    The entry stays in `resume` until the caller forgets it (once the video_url is used).
    `on_start(received_bytes, size)` is called once the upload is known; `on_chunk(bytes)`
    after each chunk that arrived.
    """
    size = (await asyncio.to_thread(path.stat)).st_size
    upload = await _resumed(client, resume, key, size) or await _started(
        client, resume, key, path, size
    )
    if on_start is not None:
        on_start(int(upload["received_bytes"]), int(upload["size_bytes"]))
    if upload["video_url"]:
        return str(upload["video_url"])
    received = set(upload["chunks_received"])
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(int(upload["chunk_count"])):
        if index not in received:
            queue.put_nowait(index)

    async def sender() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            size = await _send_chunk(client, path, upload, index)
            if on_chunk is not None:
                on_chunk(size)

    try:
        async with asyncio.TaskGroup() as senders:
            for _ in range(max(1, parallel)):
                senders.create_task(sender())
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None
    response = await client.post(f"/v1/uploads/{upload['id']}/finalize")
    raise_for_problem(response)
    return str(response.json()["video_url"])


async def _resumed(
    client: httpx.AsyncClient, resume: ResumeFile, key: str, size: int
) -> dict[str, Any] | None:
    upload_id = resume.upload_id(key)
    if upload_id is None:
        return None
    response = await client.get(f"/v1/uploads/{upload_id}")
    if response.status_code == 404:  # expired, or another service's: start over
        resume.forget(key)
        return None
    raise_for_problem(response)
    upload: dict[str, Any] = response.json()
    if upload["size_bytes"] != size:
        resume.forget(key)
        return None
    return upload


async def _started(
    client: httpx.AsyncClient, resume: ResumeFile, key: str, path: Path, size: int
) -> dict[str, Any]:
    body = {"size_bytes": size, "filename": path.name}
    response = await client.post("/v1/uploads", json=body)
    raise_for_problem(response)
    upload: dict[str, Any] = response.json()
    resume.remember(key, str(upload["id"]), path.name)
    return upload


async def _send_chunk(
    client: httpx.AsyncClient, path: Path, upload: dict[str, Any], index: int
) -> int:
    chunk_size = int(upload["chunk_size_bytes"])
    size = min(chunk_size, int(upload["size_bytes"]) - index * chunk_size)
    data = await asyncio.to_thread(_read_at, path, index * chunk_size, size)
    url = f"/v1/uploads/{upload['id']}/chunks/{index}"
    for attempt in range(1, CHUNK_TRIES + 1):
        try:
            response = await client.put(
                url, content=data, headers={"Content-Type": "application/octet-stream"}
            )
        except httpx.TransportError as exc:
            if attempt == CHUNK_TRIES:
                raise RemoteError(
                    f"chunk {index} could not be sent ({type(exc).__name__}); run the same "
                    "command again to resume",
                    ExitCode.UNREACHABLE,
                ) from None
        else:
            if response.is_success or response.status_code not in _TRANSIENT:
                raise_for_problem(response)
                return size
            if attempt == CHUNK_TRIES:
                raise_for_problem(response)
        await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def _read_at(path: Path, offset: int, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, size, offset)
    finally:
        os.close(fd)
    if len(data) != size:
        raise RemoteError(f"{path} changed while it was being uploaded", ExitCode.USAGE)
    return data
