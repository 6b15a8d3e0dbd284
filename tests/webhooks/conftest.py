"""Webhook fixtures: a CMS endpoint on loopback, settings that point at it, a running worker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from service.analyses.models import Analysis
from service.db import SessionMaker
from service.resources import open_resources
from service.settings import Settings
from service.webhooks import outbox
from service.webhooks.models import Webhook
from service.worker import Worker
from tests.support.cms import SECRET, Cms, running_cms
from tests.support.factories import insert_finished_analysis


@pytest.fixture
async def cms() -> AsyncIterator[tuple[Cms, str]]:
    """The CMS endpoint and its URL."""
    async with running_cms() as running:
        yield running


@pytest.fixture
def hook_settings(settings: Settings, cms: tuple[Cms, str]) -> Settings:
    """Settings that deliver to the test CMS, signed with SECRET, with a fast retry schedule."""
    return settings.model_copy(
        update={
            "cms_webhook_url": cms[1],
            "cms_webhook_secret": SecretStr(SECRET),
            "webhook_retry_schedule_s": "0.1,0.1",
            "webhook_timeout_s": 5.0,
        }
    )


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, name: str = "w1") -> AsyncIterator[Worker]:
    """A worker (own resources, scheduler and LISTEN connection) for the block."""
    async with open_resources(settings) as resources:
        worker = Worker(resources, name=name)
        async with worker.running():
            yield worker


async def write_delivery(
    sessionmaker: SessionMaker, *, customer_media_id: str = "media-1"
) -> tuple[Analysis, Webhook]:
    """A finished analysis and its notification, as the worker writes them."""
    analysis = await insert_finished_analysis(sessionmaker, customer_media_id=customer_media_id)
    async with sessionmaker() as session, session.begin():
        event = outbox.analysis_ended(analysis, stored=["core"], at=datetime.now(UTC))
        webhook = outbox.enqueue(session, event)
    return analysis, webhook


async def delivery(sessionmaker: SessionMaker, webhook_id: object) -> Webhook:
    """The delivery row as it is now."""
    async with sessionmaker() as session:
        found = await session.get(Webhook, webhook_id)
    assert found is not None
    return found
