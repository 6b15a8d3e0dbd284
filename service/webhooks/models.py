"""Tables of the CMS notification outbox: deliveries, their attempts, the endpoint's health."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampMixin


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  #: waiting for its next attempt, or being sent
    DELIVERED = "delivered"  #: the CMS answered 2xx
    FAILED = "failed"  #: every attempt of the retry schedule failed (a replay sends it again)


#: The Postgres channel a written (or re-queued) delivery NOTIFYs (trigger of migration 0005).
DUE_CHANNEL = "valossa_ingest_webhooks"


class Webhook(TimestampMixin, Base):
    """One notification to the CMS (its `webhook-id` is `id`), delivered at least once.

    It holds everything it needs (the whole payload): no foreign key ties it to the analysis,
    so deleting the media never deletes (nor re-sends) a notification that is owed.
    """

    __tablename__ = "webhooks"
    __table_args__ = (
        Index("ix_webhooks_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_webhooks_analysis", "analysis_id"),
        Index("ix_webhooks_created", "created_at", "id"),
        Index("ix_webhooks_status_created", "status", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    analysis_id: Mapped[uuid.UUID | None]
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(
            DeliveryStatus,
            name="webhook_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
            validate_strings=True,
        ),
        default=DeliveryStatus.PENDING,
        server_default=DeliveryStatus.PENDING.value,
    )
    #: Every attempt ever made (the history is in webhook_attempts).
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Attempts since it was written or replayed: its place in the retry schedule.
    tries: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    #: The lease of the worker sending it (a claim token and its end, on the database clock).
    claimed_by: Mapped[str | None] = mapped_column(String(160))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    gave_up_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One attempt to send a delivery: what the CMS answered, or what went wrong."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_webhook", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))
    duration_ms: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[bool]
    #: When the delivery is tried next (null when delivered or given up).
    next_attempt_at: Mapped[datetime | None]
    worker: Mapped[str] = mapped_column(String(160))


class WebhookEndpoint(Base):
    """The health of the CMS endpoint, keyed by its URL's sha256 (the URL may hold a token)."""

    __tablename__ = "webhook_endpoints"

    url_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    #: The first failure since the last success; null while the endpoint answers.
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
