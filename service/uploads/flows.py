"""Use cases of /v1/uploads: start an upload, look at it, finalize it.

Valossa is called with no transaction open; what it answered is recorded afterwards in a
short one. Chunks themselves are in chunks.py.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.db import SessionMaker
from service.errors import Conflict, NotFound, Unavailable, Unprocessable
from service.settings import Settings
from service.uploads import queries
from service.uploads.models import Upload
from service.uploads.schemas import UploadCreate, UploadView
from service.valossa import (
    ValossaApiError,
    ValossaBadRequest,
    ValossaClient,
    ValossaError,
    ValossaNotFound,
)

log = logging.getLogger(__name__)

#: The largest chunk our API takes in one request (Valossa documents 4 MiB chunks).
MAX_CHUNK_BYTES = 64 * 1024 * 1024
#: Valossa's answer to a second finalize of the same upload.
_ALREADY_FINALIZED = re.compile(r"already\s+(been\s+)?finali[sz]ed", re.IGNORECASE)


async def live_upload(session: AsyncSession, upload_id: uuid.UUID) -> Upload:
    """The upload, or a 404 problem (unknown, or expired: abandoned for UPLOAD_TTL_S)."""
    upload = await queries.get_upload(session, upload_id)
    if upload is None:
        raise NotFound(f"no upload with id {upload_id}", reason="unknown_upload")
    if upload.expires_at < await queries.database_now(session):
        raise NotFound(
            f"upload {upload_id} expired: no chunk arrived for too long; start a new upload",
            reason="expired",
        )
    return upload


async def create_upload(
    session: AsyncSession,
    valossa: ValossaClient,
    settings: Settings,
    request: UploadCreate,
    *,
    created_by: str,
) -> UploadView:
    """Start Valossa's chunked upload of a file of the given size and record it."""
    if request.size_bytes > settings.source_max_bytes:
        raise Unprocessable(
            f"size_bytes {request.size_bytes} is over the {settings.source_max_bytes} bytes "
            "Valossa accepts"
        )
    try:
        started = await valossa.initialize_file_upload(file_size_bytes=request.size_bytes)
    except ValossaApiError as exc:
        raise Unprocessable(
            f"Valossa refused the upload: {'; '.join(exc.messages) or exc}",
            valossa_messages=exc.messages,
        ) from None
    except ValossaError as exc:
        log.warning("upload: Valossa unavailable (%s)", type(exc).__name__)
        raise Unavailable("Valossa could not be reached to start the upload; retry") from None
    chunk_size = started.file_chunk_size_bytes
    if not 0 < chunk_size <= MAX_CHUNK_BYTES:
        raise Unavailable(
            f"Valossa asks for chunks of {chunk_size} bytes; this service takes chunks of at "
            f"most {MAX_CHUNK_BYTES} bytes"
        )
    await queries.delete_expired(session)
    upload = Upload(
        id=uuid.uuid4(),
        filename=request.filename,
        size_bytes=request.size_bytes,
        chunk_size_bytes=chunk_size,
        chunk_count=-(-request.size_bytes // chunk_size),
        valossa_upload_id=started.upload_id,
        created_by=created_by,
        expires_at=await queries.database_now(session) + timedelta(seconds=settings.upload_ttl_s),
    )
    session.add(upload)
    await session.flush()
    await session.refresh(upload)
    log.info("upload %s started: %s, %d bytes", upload.id, upload.filename, upload.size_bytes)
    return UploadView.build(upload, {})


async def get_upload(session: AsyncSession, upload_id: uuid.UUID) -> UploadView:
    """The upload and the chunks received so far (send the missing ones)."""
    upload = await live_upload(session, upload_id)
    return UploadView.build(upload, await queries.received_chunks(session, upload.id))


async def finalize_upload(
    sessionmaker: SessionMaker, valossa: ValossaClient, upload_id: uuid.UUID
) -> UploadView:
    """Finalize at Valossa once every chunk arrived; the view carries the video_url."""
    async with sessionmaker() as session:
        upload = await live_upload(session, upload_id)
        received = await queries.received_chunks(session, upload.id)
    if upload.video_url is not None:
        return UploadView.build(upload, received)
    missing = sorted(set(range(upload.chunk_count)) - set(received))
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
        raise Conflict(
            f"{len(missing)} of {upload.chunk_count} chunks have not arrived ({shown}); "
            "send them, then finalize",
            missing_chunks=missing[:1000],
        )
    url = await _finalize_at_valossa(valossa, upload.valossa_upload_id)
    async with sessionmaker() as session, session.begin():
        locked = await queries.get_upload(session, upload_id, for_update=True)
        if locked is None:
            raise NotFound(f"no upload with id {upload_id}", reason="unknown_upload")
        if locked.video_url is None:
            locked.video_url = url
            locked.finalized_at = await queries.database_now(session)
        await session.flush()
        await session.refresh(locked)
        log.info("upload %s finalized as %s", locked.id, locked.video_url)
        return UploadView.build(locked, received)


async def _finalize_at_valossa(valossa: ValossaClient, valossa_upload_id: str) -> str:
    try:
        return (await valossa.finalize_file_upload(upload_id=valossa_upload_id)).uploaded_file_url
    except ValossaBadRequest as exc:
        if any(_ALREADY_FINALIZED.search(message) for message in exc.messages):
            # An earlier finalize got through but its answer was lost. Valossa's documented
            # answer names the upload by its id ("valossaupload://<upload_id>").
            return f"valossaupload://{valossa_upload_id}"
        raise Unprocessable(
            f"Valossa refused to finalize the upload: {'; '.join(exc.messages) or exc}",
            valossa_messages=exc.messages,
        ) from None
    except ValossaNotFound:
        raise NotFound(
            "Valossa no longer has this upload; start a new upload", reason="gone_at_valossa"
        ) from None
    except ValossaApiError as exc:
        raise Unprocessable(
            f"Valossa refused to finalize the upload: {'; '.join(exc.messages) or exc}",
            valossa_messages=exc.messages,
        ) from None
    except ValossaError as exc:
        log.warning("finalize: Valossa unavailable (%s)", type(exc).__name__)
        raise Unavailable("Valossa could not be reached to finalize; retry") from None
