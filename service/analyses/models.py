"""Tables of the analysis domain: analyses, their events and stored results.

The CMS notifications of ended analyses are their own domain: service/webhooks/models.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from service.analyses.states import TERMINAL, AnalysisStatus
from service.db import Base, TimestampMixin

# Rows in terminal states are never due again; the partial index leaves them out so that a
# table of a million finished analyses does not slow the claim of due work. Queries that should
# use the index repeat this exact predicate (`not_terminal()`): the planner matches it as written.
NOT_TERMINAL_SQL = "status NOT IN ({})".format(
    ", ".join(f"'{status.value}'" for status in AnalysisStatus if status in TERMINAL)
)

#: The status column: text in the database, checked against the enum's values.
STATUS_TYPE = Enum(
    AnalysisStatus,
    name="analysis_status",
    native_enum=False,
    create_constraint=True,
    length=32,
    values_callable=lambda statuses: [status.value for status in statuses],
    validate_strings=True,
)


def not_terminal() -> ColumnElement[bool]:
    """The partial index's predicate, for WHERE clauses that should use it."""
    return text(NOT_TERMINAL_SQL)  # type: ignore[return-value]


class Analysis(TimestampMixin, Base):
    """One request of the CMS to analyse one media, and how far it has got."""

    __tablename__ = "analyses"
    __table_args__ = (
        Index("ix_analyses_due", "next_attempt_at", postgresql_where=text(NOT_TERMINAL_SQL)),
        Index("ix_analyses_media_created", "customer_media_id", "created_at", "id"),
        Index("ix_analyses_created", "created_at", "id"),
        Index("ix_analyses_status_created", "status", "created_at", "id"),
        Index("ix_analyses_job_id", "job_id", unique=True),
        Index("ix_analyses_idempotency_key", "idempotency_key", unique=True),
        # The latest jobs that ended, for callback_trust (a few rows read per look).
        Index(
            "ix_analyses_ended_checks",
            "status_checked_at",
            postgresql_where=text("valossa_status IN ('finished', 'error')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_media_id: Mapped[str] = mapped_column(String(1024))
    status: Mapped[AnalysisStatus] = mapped_column(STATUS_TYPE)

    # What the CMS asked for.
    video_url: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    transcript_url: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32))
    face_gallery_id: Mapped[str | None] = mapped_column(String(64))
    result_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    #: False when the CMS left result_types to the default: transcripts are then asked for only
    #: when the core metadata shows speech.
    result_types_explicit: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))

    # What Valossa said, verbatim.
    job_id: Mapped[str | None] = mapped_column(String(64))
    valossa_status: Mapped[str | None] = mapped_column(String(64))
    media_transfer_status: Mapped[str | None] = mapped_column(String(64))
    valossa_details: Mapped[str | None] = mapped_column(Text)

    # Work scheduling (steps/leases.py owns these): when the next step is due; the lease of the
    # worker step that claimed it (`claimed_by` is one claim's token, `claimed_until` its end,
    # both on the database clock); the latest Valossa callback and how many status checks
    # callbacks caused; failures in a row; the submission intent.
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(160))
    callback_at: Mapped[datetime | None]
    callback_wakeups: Mapped[int] = mapped_column(default=0, server_default="0")
    status_checked_at: Mapped[datetime | None]
    #: When Valossa's poll_again_after_seconds (clamped) says to look again: the schedule that
    #: polling falls back to when callbacks stop arriving.
    poll_hint_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    submit_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    submit_started_at: Mapped[datetime | None]
    status_checks: Mapped[int] = mapped_column(default=0, server_default="0")
    deadline_at: Mapped[datetime | None]
    overdue_since: Mapped[datetime | None]

    # Media in (steps/source_transfer.py): download attempts of source_url made so far (a
    # successful download resets it); bytes downloaded or uploaded so far in the current
    # transfer and its total (null while unknown), written at a bounded rate while it runs.
    download_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    transfer_done_bytes: Mapped[int | None] = mapped_column(BigInteger)
    transfer_total_bytes: Mapped[int | None] = mapped_column(BigInteger)

    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]


class AnalysisEvent(Base):
    """One state change (or notable step) of an analysis, for the operator's history."""

    __tablename__ = "analysis_events"
    __table_args__ = (Index("ix_analysis_events_analysis", "analysis_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    analysis_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"),
    )
    # When the change happened, not when its transaction began.
    at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    valossa_status: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))


class StoredResult(Base):
    """A result type of an analysis: stored (bytes in result_chunks) or known to be absent."""

    __tablename__ = "stored_results"

    analysis_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
    )
    result_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: "stored" or "absent" (Valossa has no such result for this job).
    state: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str | None] = mapped_column(String(128))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    metadata_format: Mapped[str | None] = mapped_column(String(32))
    absent_reason: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ResultChunk(Base):
    """A piece of a stored result, so results stream in and out without being held whole."""

    __tablename__ = "result_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["analysis_id", "result_type"],
            ["stored_results.analysis_id", "stored_results.result_type"],
            ondelete="CASCADE",
            name="fk_result_chunks_stored_results",
        ),
    )

    analysis_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    result_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    #: How `data` holds the bytes: "lz4" (one LZ4 block, as written since migration 0009) or
    #: "identity" (as they are: chunks written before it). See service.analyses.chunks.
    encoding: Mapped[str] = mapped_column(String(16), server_default=text("'identity'"))
    data: Mapped[bytes] = mapped_column(LargeBinary)
