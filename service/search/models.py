"""Tables of the search index: rows extracted from a media's newest finished analysis.

Every row hangs off `search_media` (one row per indexed analysis, at most one per media), which
hangs off `analyses`: deleting a media or replacing its index cascades through all of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    REAL,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base

#: Labels and speech are matched with English stemming (plurals, verb forms).
TEXT_CONFIG = "english"
#: Names are matched word by word without stemming ("Clarke" is not "Clark").
NAME_CONFIG = "simple"


def _media_fk(*columns: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(list(columns), ["search_media.analysis_id"], ondelete="CASCADE")


class SearchMedia(Base):
    """The indexed analysis of a media and the facts Valossa reported about the media."""

    __tablename__ = "search_media"
    __table_args__ = (Index("ix_search_media_customer_media_id", "customer_media_id", unique=True),)

    analysis_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
    )
    customer_media_id: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(REAL)
    metadata_format: Mapped[str | None] = mapped_column(String(32))
    #: Where the speech rows come from: "core" (audio.speech), "speech_to_text_srt", or None.
    speech_source: Mapped[str | None] = mapped_column(String(64))
    detections_count: Mapped[int]
    occurrences_count: Mapped[int]
    indexed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class SearchLabel(Base):
    """The vocabulary of detection labels, small enough to match fuzzily in a few ms."""

    __tablename__ = "search_labels"
    __table_args__ = (
        Index("ix_search_labels_label", "label", unique=True),
        Index("ix_search_labels_tsv", "tsv", postgresql_using="gin"),
        Index(
            "ix_search_labels_trgm",
            "label",
            postgresql_using="gin",
            postgresql_ops={"label": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(f"to_tsvector('{TEXT_CONFIG}'::regconfig, label)", persisted=True)
    )


class SearchDetection(Base):
    """One Valossa detection (a concept, a face, a keyword, a topic) of an indexed analysis."""

    __tablename__ = "search_detections"
    __table_args__ = (
        _media_fk("analysis_id"),
        Index(
            "ix_search_detections_label",
            "label_id",
            "analysis_id",
            postgresql_include=["type", "confidence", "screen_time_s"],
        ),
    )

    analysis_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    #: Our ordinal of the detection within the analysis (Valossa's ids are opaque strings).
    seq: Mapped[int] = mapped_column(primary_key=True)
    valossa_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(128))
    label: Mapped[str | None] = mapped_column(Text)
    label_id: Mapped[int | None] = mapped_column(ForeignKey("search_labels.id"))
    cid: Mapped[str | None] = mapped_column(String(64))
    ext_refs: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    #: Highest confidence of the detection (c_max of its occurrences, c, or similar_to's c).
    confidence: Mapped[float | None] = mapped_column(REAL)
    occurrences: Mapped[int]
    #: Seconds on screen (or on air): s_visible for faces, else the occurrences' total.
    screen_time_s: Mapped[float | None] = mapped_column(REAL)
    first_s: Mapped[float | None] = mapped_column(REAL)


class SearchOccurrence(Base):
    """When a detection is seen or heard: a time range with its confidence."""

    __tablename__ = "search_occurrences"
    __table_args__ = (_media_fk("analysis_id"),)

    analysis_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    detection_seq: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    start_s: Mapped[float] = mapped_column(REAL)
    end_s: Mapped[float] = mapped_column(REAL)
    confidence: Mapped[float | None] = mapped_column(REAL)


class SearchFace(Base):
    """A human.face detection: gender and, when the gallery knows it, the identity."""

    __tablename__ = "search_faces"
    __table_args__ = (
        _media_fk("analysis_id"),
        Index(
            "ix_search_faces_name_tsv",
            "name_tsv",
            postgresql_using="gin",
            postgresql_where=text("name IS NOT NULL"),
        ),
        Index(
            "ix_search_faces_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
            postgresql_where=text("name IS NOT NULL"),
        ),
        Index("ix_search_faces_face_id", "face_id", postgresql_where=text("face_id IS NOT NULL")),
    )

    analysis_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    detection_seq: Mapped[int] = mapped_column(primary_key=True)
    gender: Mapped[str | None] = mapped_column(String(16))
    gender_confidence: Mapped[float | None] = mapped_column(REAL)
    gallery_id: Mapped[str | None] = mapped_column(String(64))
    face_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text)
    #: Confidence of the gallery match (similar_to's c).
    similarity: Mapped[float | None] = mapped_column(REAL)
    visible_s: Mapped[float | None] = mapped_column(REAL)
    name_tsv: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(f"to_tsvector('{NAME_CONFIG}'::regconfig, coalesce(name, ''))", persisted=True),
    )


class SearchSpeech(Base):
    """A spoken segment (audio.speech, or an SRT cue when core has no speech)."""

    __tablename__ = "search_speech"
    __table_args__ = (_media_fk("analysis_id"),)

    analysis_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    start_s: Mapped[float] = mapped_column(REAL)
    end_s: Mapped[float] = mapped_column(REAL)
    text: Mapped[str] = mapped_column(Text)
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(f"to_tsvector('{TEXT_CONFIG}'::regconfig, text)", persisted=True)
    )


class SearchSpeechTerm(Base):
    """How often a word (a stemmed lexeme) is spoken in a media: speech search per media
    reads one row per media instead of every segment."""

    __tablename__ = "search_speech_terms"
    __table_args__ = (
        _media_fk("analysis_id"),
        Index(
            "ix_search_speech_terms_lexeme",
            "lexeme",
            "analysis_id",
            postgresql_include=["hits"],
        ),
    )

    analysis_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    hits: Mapped[int]


class SearchBacklog(Base):
    """Finished analyses waiting to be indexed (filled by a trigger on `analyses`, so an
    analysis finished by any code path, or before this feature existed, is never missed)."""

    __tablename__ = "search_backlog"
    __table_args__ = (Index("ix_search_backlog_due", "next_attempt_at"),)

    analysis_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
