"""Chunked video uploads: chunks are written straight to their offset in one file on disk."""

from __future__ import annotations

import asyncio
import os
from typing import BinaryIO

from service.emulator.entities import Upload
from service.emulator.errors import BadRequest, NotFound
from service.emulator.state import EmulatorState

MAX_UPLOAD_BYTES = 7 * 1024**3  #: the documented 7 GB file limit
COPY_BYTES = 1024 * 1024


def initialize_upload(state: EmulatorState, owner: str, file_size: int) -> Upload:
    """Start an upload of `file_size` bytes with the currently configured chunk size."""
    if file_size <= 0:
        raise BadRequest("Invalid value for field: file_size_bytes (must be greater than 0)")
    if file_size > MAX_UPLOAD_BYTES:
        raise BadRequest("Invalid value for field: file_size_bytes (the maximum file size is 7 GB)")
    upload_id = state.new_id()
    upload = Upload(
        upload_id=upload_id,
        owner=owner,
        size=file_size,
        chunk_size=state.config.chunk_size,
        path=state.data_dir / "uploads" / upload_id,
    )
    # A sparse file of the final size: chunks land at their offsets in any order.
    with upload.path.open("wb") as file:
        file.truncate(file_size)
    state.uploads[upload_id] = upload
    state.save(upload)
    return upload


def find_upload(state: EmulatorState, owner: str, upload_id: str) -> Upload:
    """An upload of this key, or 404."""
    upload = state.uploads.get(upload_id)
    if upload is None or upload.owner != owner or upload.deleted:
        raise NotFound("Upload not found")
    return upload


def expected_chunk_size(upload: Upload, index: int) -> int:
    """The exact size chunk `index` must have; the last one completes the declared size."""
    if not 0 <= index < upload.n_chunks:
        raise BadRequest(
            "Invalid value for field: chunk_index "
            f"(must be 0..{upload.n_chunks - 1} for this upload)"
        )
    return min(upload.chunk_size, upload.size - index * upload.chunk_size)


async def store_chunk(
    state: EmulatorState, upload: Upload, index: int, data: BinaryIO, size: int
) -> None:
    """Write one chunk at its offset; a resent chunk overwrites the earlier one."""
    if upload.finalized:
        raise BadRequest("The upload has already been finalized")
    expected = expected_chunk_size(upload, index)
    if size != expected:
        raise BadRequest(
            f"Invalid chunk size: chunk {index} must be exactly {expected} bytes, got {size}"
        )
    await asyncio.to_thread(_copy_at, data, upload, index * upload.chunk_size)
    upload.received.add(index)
    state.save(upload)


def _copy_at(data: BinaryIO, upload: Upload, offset: int) -> None:
    data.seek(0)
    fd = os.open(upload.path, os.O_WRONLY)
    try:
        while piece := data.read(COPY_BYTES):
            os.pwrite(fd, piece, offset)
            offset += len(piece)
    finally:
        os.close(fd)


def finalize_upload(state: EmulatorState, upload: Upload) -> str:
    """Check that every chunk arrived; the answer is the file's valossaupload:// URL."""
    missing = sorted(set(range(upload.n_chunks)) - upload.received)
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise BadRequest(f"The upload is incomplete: missing chunks {shown}")
    upload.finalized = True
    state.save(upload)
    return f"valossaupload://{upload.upload_id}"
