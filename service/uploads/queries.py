"""SQL of direct uploads: plain functions over a session."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.uploads.models import Upload, UploadChunk


async def database_now(session: AsyncSession) -> datetime:
    """The database's now(), the clock of expiries."""
    now: datetime | None = await session.scalar(select(func.now()))
    assert now is not None
    return now


async def get_upload(
    session: AsyncSession, upload_id: uuid.UUID, *, for_update: bool = False
) -> Upload | None:
    """The upload (locked when `for_update`), fresh from the database."""
    query = select(Upload).where(Upload.id == upload_id).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def received_chunks(session: AsyncSession, upload_id: uuid.UUID) -> dict[int, int]:
    """The chunks that arrived: index -> size."""
    rows = await session.execute(
        select(UploadChunk.chunk_index, UploadChunk.size_bytes).where(
            UploadChunk.upload_id == upload_id
        )
    )
    return {row.chunk_index: row.size_bytes for row in rows}


async def record_chunk(
    session: AsyncSession, upload_id: uuid.UUID, index: int, size: int, ttl: timedelta
) -> int:
    """Record a chunk Valossa accepted (again, if it was sent twice), push the upload's expiry
    out, and return how many distinct chunks have arrived."""
    statement = insert(UploadChunk).values(upload_id=upload_id, chunk_index=index, size_bytes=size)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[UploadChunk.upload_id, UploadChunk.chunk_index],
            set_={"size_bytes": size, "received_at": func.now()},
        )
    )
    await session.execute(
        update(Upload).where(Upload.id == upload_id).values(expires_at=func.now() + ttl)
    )
    count = await session.scalar(
        select(func.count()).select_from(UploadChunk).where(UploadChunk.upload_id == upload_id)
    )
    return count or 0


async def delete_expired(session: AsyncSession) -> int:
    """Forget uploads abandoned past their expiry (their chunks go with them)."""
    result = await session.execute(delete(Upload).where(Upload.expires_at < func.now()))
    return int(getattr(result, "rowcount", 0) or 0)
