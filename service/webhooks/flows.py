"""Use cases of the CMS API on webhooks: see deliveries, replay one, see and enable the endpoint."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.flows.analyses import decode_cursor, encode_cursor
from service.errors import Conflict, NotFound
from service.settings import Settings
from service.webhooks import endpoint, queries
from service.webhooks.models import DeliveryStatus, Webhook
from service.webhooks.schemas import DeliveryPage, DeliveryView, EndpointView

#: Attempts shown per delivery (the newest; the count is in `attempt_count`).
ATTEMPTS_SHOWN = 20


async def list_deliveries(
    session: AsyncSession,
    *,
    status: DeliveryStatus | None,
    analysis_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> DeliveryPage:
    """A page of deliveries, newest first, each with its latest attempts."""
    before = decode_cursor(cursor) if cursor else None
    rows = await queries.page_of_deliveries(
        session, status=status, analysis_id=analysis_id, before=before, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    attempts = await queries.latest_attempts(
        session, [w.id for w in page], per_delivery=ATTEMPTS_SHOWN
    )
    return DeliveryPage(
        items=[DeliveryView.build(w, attempts.get(w.id, [])) for w in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


async def get_delivery(session: AsyncSession, webhook_id: uuid.UUID) -> DeliveryView:
    """One delivery with its latest attempts, or a 404."""
    webhook = await _find(session, webhook_id)
    attempts = await queries.latest_attempts(session, [webhook.id], per_delivery=ATTEMPTS_SHOWN)
    return DeliveryView.build(webhook, attempts.get(webhook.id, []))


async def replay(session: AsyncSession, settings: Settings, webhook_id: uuid.UUID) -> DeliveryView:
    """Send a delivery again now (same webhook-id, a fresh retry schedule), whatever its
    status; 409 while it is being sent or while the endpoint cannot receive it."""
    url = _configured(settings)
    webhook = await _find(session, webhook_id, for_update=True)
    if await endpoint.is_disabled(session, url):
        raise Conflict("the webhook endpoint is disabled; POST /v1/webhooks/enable first")
    if await queries.is_being_sent(session, webhook):
        raise Conflict("this delivery is being sent right now; look at it again in a moment")
    queries.requeue(webhook)
    await session.flush()
    await session.refresh(webhook)
    return await get_delivery(session, webhook_id)


async def endpoint_view(session: AsyncSession, settings: Settings) -> EndpointView:
    """The CMS endpoint's health and the outbox's backlog."""
    pending, failed = await queries.backlog(session)
    url = settings.cms_webhook_url
    if url is None:
        return EndpointView.build(None, None, pending=pending, failed=failed)
    state = await endpoint.endpoint_of(session, url)
    return EndpointView.build(endpoint.endpoint_host(url), state, pending=pending, failed=failed)


async def enable(session: AsyncSession, settings: Settings) -> EndpointView:
    """Resume deliveries to the endpoint; every pending delivery is due at once."""
    url = _configured(settings)
    await endpoint.enable(session, url)
    await queries.make_pending_due(session)
    return await endpoint_view(session, settings)


def _configured(settings: Settings) -> str:
    if settings.cms_webhook_url is None:
        raise Conflict("webhooks are off: CMS_WEBHOOK_URL is not set")
    return settings.cms_webhook_url


async def _find(
    session: AsyncSession, webhook_id: uuid.UUID, *, for_update: bool = False
) -> Webhook:
    webhook = await queries.get_delivery(session, webhook_id, for_update=for_update)
    if webhook is None:
        raise NotFound(f"no webhook delivery {webhook_id}")
    return webhook
