"""The mirror of Valossa's face galleries, face identities and training images."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampMixin

#: Valossa's ids are UUIDs; this leaves room for another shape.
ID_LENGTH = 64
#: Valossa's longest gallery or face name.
NAME_LENGTH = 1024


class FaceGallery(TimestampMixin, Base):
    """A gallery at Valossa; at most one row is the key's default gallery."""

    __tablename__ = "face_galleries"
    __table_args__ = (
        Index(
            "ix_face_galleries_default",
            "is_default",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    is_default: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Fingerprint of the CMS token that created it; NULL when `faces sync` found it at Valossa.
    created_by: Mapped[str | None] = mapped_column(String(64))


class Face(TimestampMixin, Base):
    """A face identity (a person) of one gallery."""

    __tablename__ = "faces"
    __table_args__ = (Index("ix_faces_gallery", "gallery_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    gallery_id: Mapped[str] = mapped_column(ForeignKey("face_galleries.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    #: "male", "female" or NULL, as Valossa has it.
    gender: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(64))


class FaceImage(Base):
    """A training image Valossa accepted for a face (the bytes stay at Valossa)."""

    __tablename__ = "face_images"
    __table_args__ = (Index("ix_face_images_face", "face_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    face_id: Mapped[str] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"))
    # What we saw when it was uploaded through us; NULL for images `faces sync` found.
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(32))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
