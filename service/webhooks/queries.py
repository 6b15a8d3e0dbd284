"""The outbox's SQL: claim due deliveries under a lease, record attempts, page and replay.

Every time here is the database's (`now()`), like the analyses' leases.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt


async def claim_due(
    session: AsyncSession, *, token: str, lease_s: float, limit: int
) -> list[Webhook]:
    """Lease up to `limit` due pending deliveries to the claim `token` (FOR UPDATE SKIP LOCKED):
    no one else sends them until the lease ends (a worker that dies simply lets it run out)."""
    if limit <= 0:
        return []
    now = await session.scalar(select(func.now()))
    assert now is not None
    rows = (
        await session.scalars(
            select(Webhook)
            .where(Webhook.status == DeliveryStatus.PENDING, Webhook.next_attempt_at <= now)
            .where(or_(Webhook.claimed_until.is_(None), Webhook.claimed_until < now))
            .order_by(Webhook.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for webhook in rows:
        webhook.claimed_by = token
        webhook.claimed_until = now + timedelta(seconds=lease_s)
    return list(rows)


@dataclass(frozen=True)
class Recorded:
    """A delivery after an attempt was recorded."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    #: From the row written to now (the database's clock): the delivery's latency.
    age_s: float


async def record_attempt(
    session: AsyncSession,
    webhook: Webhook,
    *,
    token: str,
    status_code: int | None,
    error: str | None,
    duration_s: float,
    retry_in_s: float | None,
    worker: str,
) -> Recorded | None:
    """Record one attempt of a delivery claimed with `token`: delivered (`error` None), due
    again in `retry_in_s`, or failed for good (`retry_in_s` None). Only this row changes; None
    if the claim no longer holds (it was taken over, or the row is gone)."""
    now = func.now()
    if error is None:
        values: dict[str, object] = {
            "status": DeliveryStatus.DELIVERED,
            "delivered_at": now,
            "next_attempt_at": None,
            "last_error": None,
        }
    elif retry_in_s is None:
        values = {
            "status": DeliveryStatus.FAILED,
            "gave_up_at": now,
            "next_attempt_at": None,
            "last_error": error,
        }
    else:
        values = {"next_attempt_at": now + timedelta(seconds=retry_in_s), "last_error": error}
    row = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook.id, Webhook.claimed_by == token)
            .values(
                attempts=Webhook.attempts + 1,
                tries=Webhook.tries + 1,
                claimed_by=None,
                claimed_until=None,
                **values,
            )
            .returning(
                Webhook.status,
                Webhook.next_attempt_at,
                func.extract("epoch", now - Webhook.created_at),
            )
        )
    ).one_or_none()
    if row is None:
        return None
    status, next_attempt_at, age_s = row
    session.add(
        WebhookAttempt(
            webhook_id=webhook.id,
            duration_ms=round(duration_s * 1000),
            status_code=status_code,
            error=error,
            delivered=error is None,
            next_attempt_at=next_attempt_at,
            worker=worker,
        )
    )
    return Recorded(DeliveryStatus(status), next_attempt_at, float(age_s))


async def page_of_deliveries(
    session: AsyncSession,
    *,
    status: DeliveryStatus | None,
    analysis_id: uuid.UUID | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Webhook]:
    """Up to `limit` deliveries, newest first, strictly after the keyset position `before`."""
    query = select(Webhook)
    if status is not None:
        query = query.where(Webhook.status == status)
    if analysis_id is not None:
        query = query.where(Webhook.analysis_id == analysis_id)
    if before is not None:
        query = query.where(tuple_(Webhook.created_at, Webhook.id) < tuple_(*before))
    query = query.order_by(Webhook.created_at.desc(), Webhook.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def latest_attempts(
    session: AsyncSession, webhook_ids: Sequence[uuid.UUID], *, per_delivery: int
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    """The latest `per_delivery` attempts of each delivery, oldest first."""
    found: dict[uuid.UUID, list[WebhookAttempt]] = defaultdict(list)
    if not webhook_ids:
        return found
    rank = (
        func.row_number()
        .over(partition_by=WebhookAttempt.webhook_id, order_by=WebhookAttempt.id.desc())
        .label("rank")
    )
    ranked = (
        select(WebhookAttempt.id, rank).where(WebhookAttempt.webhook_id.in_(webhook_ids)).subquery()
    )
    rows = await session.scalars(
        select(WebhookAttempt)
        .join(ranked, ranked.c.id == WebhookAttempt.id)
        .where(ranked.c.rank <= per_delivery)
        .order_by(WebhookAttempt.webhook_id, WebhookAttempt.id)
    )
    for attempt in rows:
        found[attempt.webhook_id].append(attempt)
    return found


async def get_delivery(
    session: AsyncSession, webhook_id: uuid.UUID, *, for_update: bool = False
) -> Webhook | None:
    """One delivery (locked for the transaction when `for_update`)."""
    query = select(Webhook).where(Webhook.id == webhook_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query.execution_options(populate_existing=True))


def requeue(webhook: Webhook) -> None:
    """Make a delivery pending and due now, with a fresh retry schedule (same webhook-id)."""
    webhook.status = DeliveryStatus.PENDING
    webhook.tries = 0
    webhook.next_attempt_at = func.now()
    webhook.delivered_at = None
    webhook.gave_up_at = None


async def make_pending_due(session: AsyncSession) -> int:
    """Make every pending delivery due now (the endpoint was enabled again); how many."""
    result = await session.execute(
        update(Webhook)
        .where(Webhook.status == DeliveryStatus.PENDING, Webhook.next_attempt_at > func.now())
        .values(next_attempt_at=func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def backlog(session: AsyncSession) -> tuple[int, int]:
    """How many deliveries are pending, and how many failed (both from indexes)."""
    pending, failed = (
        await session.execute(
            select(
                func.count().filter(Webhook.status == DeliveryStatus.PENDING),
                func.count().filter(Webhook.status == DeliveryStatus.FAILED),
            ).where(Webhook.status.in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED]))
        )
    ).one()
    return int(pending), int(failed)


async def is_being_sent(session: AsyncSession, webhook: Webhook) -> bool:
    """True while a worker's lease on the delivery holds."""
    if webhook.claimed_until is None:
        return False
    now = await session.scalar(select(func.now()))
    return now is not None and webhook.claimed_until > now
