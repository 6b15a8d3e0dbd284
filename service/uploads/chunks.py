"""One chunk of a direct upload, streamed from the request body into Valossa's send_file_chunk.

Nothing is stored and nothing is held whole: the body passes through in the pieces the server
reads, counted on the way, and Valossa's request carries the exact length. Valossa accepts a
chunk sent again, so a chunk that failed is simply sent again by the client. Only chunks
Valossa accepted are recorded, each in its own row, so parallel chunks never wait on each other
and any API replica takes any chunk.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta

from service.db import SessionMaker
from service.errors import BadRequest, Conflict, NotFound, Unavailable, Unprocessable
from service.settings import Settings
from service.uploads import queries
from service.uploads.flows import live_upload
from service.uploads.schemas import ChunkReceipt
from service.valossa import ValossaApiError, ValossaClient, ValossaError, ValossaNotFound

log = logging.getLogger(__name__)

#: A client that sends nothing for this long has stalled; the chunk is abandoned.
CHUNK_IDLE_S = 60.0


class ChunkInterrupted(Exception):
    """The chunk's body did not arrive whole (ended early, too long, stalled, disconnected)."""


async def exactly(body: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """Pass `body` on, raising ChunkInterrupted unless it is exactly `size` bytes."""
    received = 0
    pieces = aiter(body)
    while True:
        try:
            async with asyncio.timeout(CHUNK_IDLE_S):
                piece = await anext(pieces)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise ChunkInterrupted(f"no data for {CHUNK_IDLE_S:.0f} s") from None
        received += len(piece)
        if received > size:
            raise ChunkInterrupted(f"more than the {size} bytes announced")
        yield piece
    if received != size:
        raise ChunkInterrupted(f"the body ended after {received} of {size} bytes")


async def receive_chunk(
    sessionmaker: SessionMaker,
    valossa: ValossaClient,
    settings: Settings,
    upload_id: uuid.UUID,
    index: int,
    body: AsyncIterable[bytes],
    length: int,
) -> ChunkReceipt:
    """Send chunk `index` (the request body, `length` bytes) to Valossa and record it."""
    async with sessionmaker() as session:
        upload = await live_upload(session, upload_id)
    if upload.video_url is not None:
        raise Conflict("the upload is finalized; its chunks can no longer change")
    if not 0 <= index < upload.chunk_count:
        raise Unprocessable(
            f"chunk index {index} is out of range: this upload has chunks 0 to "
            f"{upload.chunk_count - 1}"
        )
    expected = min(upload.chunk_size_bytes, upload.size_bytes - index * upload.chunk_size_bytes)
    if length != expected:
        first = index * upload.chunk_size_bytes
        raise Unprocessable(
            f"chunk {index} must be exactly {expected} bytes (bytes {first} to "
            f"{first + expected - 1} of the file); the request has {length}"
        )
    try:
        await valossa.send_file_chunk_stream(
            upload_id=upload.valossa_upload_id,
            chunk_index=index,
            data=exactly(body, expected),
            size=expected,
        )
    except ChunkInterrupted as exc:
        raise BadRequest(f"chunk {index} did not arrive whole ({exc}); send it again") from None
    except ValossaNotFound:
        raise NotFound(
            "Valossa no longer has this upload; start a new upload", reason="gone_at_valossa"
        ) from None
    except ValossaApiError as exc:
        raise Unprocessable(
            f"Valossa refused chunk {index}: {'; '.join(exc.messages) or exc}",
            valossa_messages=exc.messages,
        ) from None
    except ValossaError as exc:
        log.warning("chunk %d of upload %s: Valossa unavailable (%s)", index, upload_id, exc)
        raise Unavailable(
            f"Valossa could not be reached; chunk {index} was not recorded, send it again"
        ) from None
    async with sessionmaker() as session, session.begin():
        ttl = timedelta(seconds=settings.upload_ttl_s)
        count = await queries.record_chunk(session, upload.id, index, expected, ttl)
    return ChunkReceipt(
        upload_id=upload.id,
        index=index,
        size_bytes=expected,
        chunks_received=count,
        chunk_count=upload.chunk_count,
    )
