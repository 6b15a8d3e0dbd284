"""Request and response shapes of /v1/uploads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.analyses.inputs import Filename
from service.uploads.models import Upload

#: The largest file Valossa documents (7 GB).
VALOSSA_MAX_FILE_BYTES = 7 * 1024**3


class UploadCreate(BaseModel):
    """Body of POST /v1/uploads: the file you are about to send."""

    model_config = ConfigDict(extra="forbid")

    size_bytes: int = Field(
        gt=0,
        le=VALOSSA_MAX_FILE_BYTES,
        description="The file's exact size in bytes (at most 7 GB, or SOURCE_MAX_BYTES).",
    )
    filename: Filename = Field(description="The file's name, to recognise it by (1-1024 chars).")


class UploadView(BaseModel):
    """An upload: how to send its chunks, which arrived, and its URL once finalized."""

    id: uuid.UUID
    filename: str
    size_bytes: int
    chunk_size_bytes: int = Field(
        description="Send chunk i as bytes [i*chunk_size_bytes, (i+1)*chunk_size_bytes) of the "
        "file; every chunk has this size but the last."
    )
    chunk_count: int
    chunk_url_template: str = Field(description="Where to PUT chunk {index}.")
    chunks_received: list[int] = Field(description="Indexes Valossa accepted, ascending.")
    received_bytes: int
    status: Literal["open", "finalized"]
    video_url: str | None = Field(
        description="Once finalized: the valossaupload:// URL to pass as video_url of "
        "POST /v1/analyses."
    )
    expires_at: datetime = Field(
        description="An upload with no new chunk until then is abandoned (UPLOAD_TTL_S)."
    )
    created_at: datetime
    finalized_at: datetime | None

    @classmethod
    def build(cls, upload: Upload, received: dict[int, int]) -> UploadView:
        """The view of an upload and its received chunks (index -> size)."""
        return cls(
            id=upload.id,
            filename=upload.filename,
            size_bytes=upload.size_bytes,
            chunk_size_bytes=upload.chunk_size_bytes,
            chunk_count=upload.chunk_count,
            chunk_url_template=f"/v1/uploads/{upload.id}/chunks/{{index}}",
            chunks_received=sorted(received),
            received_bytes=sum(received.values()),
            status="finalized" if upload.video_url else "open",
            video_url=upload.video_url,
            expires_at=upload.expires_at,
            created_at=upload.created_at,
            finalized_at=upload.finalized_at,
        )


class ChunkReceipt(BaseModel):
    """Valossa accepted a chunk."""

    upload_id: uuid.UUID
    index: int
    size_bytes: int
    chunks_received: int = Field(description="How many distinct chunks have arrived so far.")
    chunk_count: int
