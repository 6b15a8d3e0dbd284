"""Telling the CMS that an analysis ended: Standard Webhooks, at least once, with backoff.

Each delivery is signed: `webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`
with the `webhook-id` and `webhook-timestamp` headers, so the CMS can verify and de-duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import timedelta

import httpx
from sqlalchemy import select

from service.analyses.lifecycle import backoff_delay, utcnow
from service.analyses.models import Webhook
from service.analyses.work import Step

log = logging.getLogger(__name__)

#: After this long without a 2xx, a webhook is given up (and logged as such).
GIVE_UP_AFTER = timedelta(days=3)
MAX_BACKOFF_S = 3600.0


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature header value of one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def deliver_due_webhooks(step: Step, *, limit: int = 20) -> int:
    """Send the webhooks that are due; return how many were delivered."""
    url = step.settings.cms_webhook_url
    if not url:
        return 0
    secret = step.settings.callback_signing_secret
    key = secret.get_secret_value() if secret else ""
    delivered = 0
    async with step.transaction() as session:
        rows = (
            await session.scalars(
                select(Webhook)
                .where(Webhook.delivered_at.is_(None), Webhook.gave_up_at.is_(None))
                .where(Webhook.next_attempt_at <= utcnow())
                .order_by(Webhook.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        # Row locks are held while sending: another replica skips these rows meanwhile.
        for webhook in rows:
            if await _send(step.http, url, key, webhook):
                webhook.delivered_at = utcnow()
                delivered += 1
            elif utcnow() - webhook.created_at > GIVE_UP_AFTER:
                webhook.gave_up_at = utcnow()
                log.error("webhook %s given up after %d attempts", webhook.id, webhook.attempts)
            else:
                wait = backoff_delay(webhook.attempts, cap_s=MAX_BACKOFF_S, base_s=2.0)
                webhook.next_attempt_at = utcnow() + timedelta(seconds=wait)
    return delivered


async def _send(http: httpx.AsyncClient, url: str, key: str, webhook: Webhook) -> bool:
    webhook.attempts += 1
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
        webhook.last_error = f"{type(exc).__name__}"
        return False
    if 200 <= response.status_code < 300:
        return True
    webhook.last_error = f"HTTP {response.status_code}"
    return False
