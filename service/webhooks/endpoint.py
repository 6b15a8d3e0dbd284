"""The CMS endpoint's health: failing since when, and disabled after days of failures.

Keyed by the sha256 of CMS_WEBHOOK_URL, so a new URL starts afresh and the URL itself (which
may carry a token) is not stored. Disabled means no delivery is attempted until an operator
enables it again (`POST /v1/webhooks/enable`); deliveries keep queuing meanwhile.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.webhooks.models import WebhookEndpoint


def endpoint_key(url: str) -> str:
    """The key of the endpoint at `url`."""
    return hashlib.sha256(url.encode()).hexdigest()


def endpoint_host(url: str) -> str:
    """The host (and port, if any) of `url`: what logs and views may show of it."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(an invalid URL)"
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


async def endpoint_of(session: AsyncSession, url: str) -> WebhookEndpoint | None:
    """The recorded health of the endpoint at `url` (None if it never had an attempt)."""
    return await session.get(WebhookEndpoint, endpoint_key(url), populate_existing=True)


async def is_disabled(session: AsyncSession, url: str) -> bool:
    """True if deliveries to `url` are suspended."""
    disabled_at = await session.scalar(
        select(WebhookEndpoint.disabled_at).where(WebhookEndpoint.url_sha256 == endpoint_key(url))
    )
    return disabled_at is not None


async def note_success(session: AsyncSession, url: str) -> None:
    """The endpoint answered 2xx: it is not failing any more."""
    values = {"failing_since": None, "last_success_at": func.now()}
    await session.execute(
        insert(WebhookEndpoint)
        .values(url_sha256=endpoint_key(url), host=endpoint_host(url), **values)
        .on_conflict_do_update(index_elements=[WebhookEndpoint.url_sha256], set_=values)
    )


async def note_failure(session: AsyncSession, url: str, *, disable_after_s: float) -> bool:
    """An attempt failed; disable the endpoint if it has failed for `disable_after_s` with no
    success. True only for the one call that disabled it."""
    key = endpoint_key(url)
    await session.execute(
        insert(WebhookEndpoint)
        .values(
            url_sha256=key,
            host=endpoint_host(url),
            failing_since=func.now(),
            last_failure_at=func.now(),
        )
        .on_conflict_do_update(
            index_elements=[WebhookEndpoint.url_sha256],
            set_={
                "failing_since": func.coalesce(WebhookEndpoint.failing_since, func.now()),
                "last_failure_at": func.now(),
            },
        )
    )
    disabled = await session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.url_sha256 == key, WebhookEndpoint.disabled_at.is_(None))
        .where(WebhookEndpoint.failing_since <= func.now() - timedelta(seconds=disable_after_s))
        .values(
            disabled_at=func.now(),
            disabled_reason=f"every attempt failed for {_duration(disable_after_s)}",
        )
        .returning(WebhookEndpoint.url_sha256)
    )
    return disabled is not None


async def enable(session: AsyncSession, url: str) -> None:
    """Resume deliveries to `url`; its failure streak starts over."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.url_sha256 == endpoint_key(url))
        .values(disabled_at=None, disabled_reason=None, failing_since=None)
    )


def _duration(seconds: float) -> str:
    if seconds >= 86400 and seconds % 3600 == 0:
        return f"{seconds / 86400:g} days"
    return f"{seconds:g} s"
