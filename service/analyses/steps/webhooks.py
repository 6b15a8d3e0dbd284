"""Telling the CMS that an analysis ended: Standard Webhooks, at least once, with backoff.

Each delivery is signed: `webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`
with the `webhook-id` and `webhook-timestamp` headers, so the CMS can verify and de-duplicate.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from datetime import timedelta

import httpx
from sqlalchemy import select

from service.analyses.lifecycle import utcnow
from service.analyses.models import Webhook
from service.analyses.steps.outcomes import backoff_delay
from service.db import SessionMaker
from service.settings import Settings

log = logging.getLogger(__name__)

#: After this long without a 2xx, a webhook is given up (and logged as such).
GIVE_UP_AFTER = timedelta(days=3)
MAX_BACKOFF_S = 3600.0
#: How long one replica owns a delivery it is sending.
CLAIM = timedelta(seconds=60)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature header value of one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def deliver_due_webhooks(
    sessionmaker: SessionMaker, http: httpx.AsyncClient, settings: Settings, *, limit: int = 20
) -> int:
    """Send the webhooks that are due; return how many were delivered.

    Rows are claimed (a short lease) and committed before sending, so a slow CMS holds no
    transaction and no row lock; another replica skips them until the claim runs out.
    """
    url = settings.cms_webhook_url
    if not url:
        return 0
    secret = settings.callback_signing_secret
    key = secret.get_secret_value() if secret else ""
    async with sessionmaker() as session, session.begin():
        now = utcnow()
        due = (
            await session.scalars(
                select(Webhook)
                .where(Webhook.delivered_at.is_(None), Webhook.gave_up_at.is_(None))
                .where(Webhook.next_attempt_at <= now)
                .where((Webhook.claimed_until.is_(None)) | (Webhook.claimed_until < now))
                .order_by(Webhook.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for webhook in due:
            webhook.claimed_until = now + CLAIM
    outcomes = await asyncio.gather(*(_send(http, url, key, webhook) for webhook in due))
    async with sessionmaker() as session, session.begin():
        for webhook, error in zip(due, outcomes, strict=True):
            _record(await session.merge(webhook), error)
    return outcomes.count(None)


def _record(webhook: Webhook, error: str | None) -> None:
    webhook.attempts += 1
    webhook.claimed_until = None
    if error is None:
        webhook.delivered_at = utcnow()
        return
    webhook.last_error = error
    if utcnow() - webhook.created_at > GIVE_UP_AFTER:
        webhook.gave_up_at = utcnow()
        log.error("webhook %s given up after %d attempts", webhook.id, webhook.attempts)
    else:
        wait = backoff_delay(webhook.attempts, cap_s=MAX_BACKOFF_S, base_s=2.0)
        webhook.next_attempt_at = utcnow() + timedelta(seconds=wait)


async def _send(http: httpx.AsyncClient, url: str, key: str, webhook: Webhook) -> str | None:
    """POST one delivery; None on a 2xx, else what went wrong."""
    body = json.dumps(webhook.payload, separators=(",", ":")).encode()
    timestamp = int(utcnow().timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": str(webhook.id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, str(webhook.id), timestamp, body),
    }
    try:
        response = await http.post(url, content=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
