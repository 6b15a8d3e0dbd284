"""Upload a file to Valossa in chunks, several at once, and return its valossaupload:// URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path

from service.valossa.client import ValossaClient

#: Any async source of bytes, in pieces of any size (an HTTP download, a file reader...).
AsyncByteSource = AsyncIterable[bytes]
#: How much a Path source reads per blocking call.
_FILE_READ_SIZE = 1024 * 1024


async def upload_file(
    client: ValossaClient,
    source: Path | AsyncByteSource,
    *,
    size: int,
    parallelism: int = 4,
    on_progress: Callable[[int], None] | None = None,
) -> str:
    """Upload `size` bytes from `source` with up to `parallelism` chunks in flight; return the URL.

    Chunks are exactly `file_chunk_size_bytes` (the last one shorter) and indexed from 0; the
    documentation allows any order. At most `parallelism` chunks are held in memory. A failed
    chunk is retried alone by the client's retry policy; if it still fails, the other sends are
    cancelled and the error is raised. `on_progress` receives the total bytes sent so far.
    """
    if size <= 0:
        raise ValueError("size must be positive")
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    upload = await client.initialize_file_upload(file_size_bytes=size)
    chunk_size = upload.file_chunk_size_bytes
    slots = asyncio.Semaphore(parallelism)
    sent = 0

    async def send(index: int, data: bytes) -> None:
        nonlocal sent
        try:
            await client.send_file_chunk(upload_id=upload.upload_id, chunk_index=index, data=data)
        finally:
            slots.release()
        sent += len(data)
        if on_progress is not None:
            on_progress(sent)

    byte_source = _read_file(source) if isinstance(source, Path) else source
    try:
        async with asyncio.TaskGroup() as tasks:
            total = 0
            async for index, chunk in _enumerate(_rechunk(byte_source, chunk_size)):
                total += len(chunk)
                if total > size:
                    raise ValueError(f"source yielded more than the declared {size} bytes")
                await slots.acquire()
                tasks.create_task(send(index, chunk))
            if total != size:
                raise ValueError(f"source yielded {total} bytes, not the declared {size}")
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None
    finalized = await client.finalize_file_upload(upload_id=upload.upload_id)
    return finalized.uploaded_file_url


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while piece := await asyncio.to_thread(file.read, _FILE_READ_SIZE):
            yield piece


async def _rechunk(source: AsyncByteSource, chunk_size: int) -> AsyncIterator[bytes]:
    """Regroup pieces of any size into chunks of exactly `chunk_size` (the last may be shorter)."""
    buffer = bytearray()
    async for piece in source:
        buffer += piece
        while len(buffer) >= chunk_size:
            yield bytes(buffer[:chunk_size])
            del buffer[:chunk_size]
    if buffer:
        yield bytes(buffer)


async def _enumerate(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    index = 0
    async for chunk in chunks:
        yield index, chunk
        index += 1
