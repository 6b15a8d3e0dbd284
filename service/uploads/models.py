"""Tables of direct uploads: the upload and the chunks Valossa confirmed. No file bytes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampMixin


class Upload(TimestampMixin, Base):
    """A file a client sends us in chunks, each passed on to Valossa's upload `valossa_upload_id`.

    Kept in Postgres (not in an API process) so that any replica takes any chunk.
    """

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_expires_at", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    filename: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    #: Valossa's `file_chunk_size_bytes`: every chunk but the last has exactly this size.
    chunk_size_bytes: Mapped[int] = mapped_column(BigInteger)
    chunk_count: Mapped[int]
    valossa_upload_id: Mapped[str] = mapped_column(String(128))
    #: The fingerprint of the CMS token that started it (never the token).
    created_by: Mapped[str] = mapped_column(String(64))
    #: No new chunk by then: the upload is abandoned (UPLOAD_TTL_S after its latest chunk).
    expires_at: Mapped[datetime]
    finalized_at: Mapped[datetime | None]
    #: Valossa's valossaupload:// URL, once finalized.
    video_url: Mapped[str | None] = mapped_column(Text)


class UploadChunk(Base):
    """A chunk Valossa accepted (a chunk sent again replaces it there and here)."""

    __tablename__ = "upload_chunks"

    upload_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_index: Mapped[int] = mapped_column(primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
