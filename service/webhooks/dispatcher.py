"""The worker's side of the outbox: claim due deliveries and send each one on its own.

Each delivery is leased (claimed_by, claimed_until on the database clock) in a short
transaction, sent with no transaction open, and its attempt recorded in its own transaction
that re-checks the lease. A delivery whose worker dies mid-send is sent again by whoever
claims it after the lease runs out: at least once, and twice only then. At most
WEBHOOK_CONCURRENCY are under way per worker, each bounded by WEBHOOK_TIMEOUT_S, so a CMS that
answers slowly holds one slot for that long and never delays the others.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

import httpx

from service.db import SessionMaker
from service.settings import Settings
from service.webhooks import endpoint, queries
from service.webhooks.delivery import Outcome, retry_delay, send
from service.webhooks.metrics import DeliveryMetrics
from service.webhooks.models import DeliveryStatus, Webhook

log = logging.getLogger(__name__)

#: A lease outlives one attempt's time limit twice over, plus time to record it.
LEASE_SLACK_S = 5.0

_claim_numbers = itertools.count(1)


def lease_s(settings: Settings) -> float:
    """How long a worker owns a delivery it claimed."""
    return 2 * settings.webhook_timeout_s + LEASE_SLACK_S


class Dispatcher:
    """Starts a task per claimed delivery, at most `settings.webhook_concurrency` at once."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: SessionMaker,
        http: httpx.AsyncClient,
        metrics: DeliveryMetrics,
        worker: str,
        on_done: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.http = http
        self.metrics = metrics
        self.worker = worker
        self.on_done = on_done
        self.tasks: set[asyncio.Task[None]] = set()

    async def dispatch(self) -> int:
        """Claim due deliveries for the free slots and start sending them; how many."""
        url = self.settings.cms_webhook_url
        free = self.settings.webhook_concurrency - len(self.tasks)
        if url is None or free <= 0:
            return 0
        token = f"{self.worker}#w{next(_claim_numbers)}"
        async with self.sessionmaker() as session, session.begin():
            if await endpoint.is_disabled(session, url):
                return 0
            claimed = await queries.claim_due(
                session, token=token, lease_s=lease_s(self.settings), limit=free
            )
        for webhook in claimed:
            task = asyncio.create_task(self._deliver(url, webhook, token))
            self.tasks.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        # A slot is free (and more may be due): look again.
        self.on_done()

    async def _deliver(self, url: str, webhook: Webhook, token: str) -> None:
        try:
            outcome = await send(
                self.http,
                url,
                self.settings.webhook_secrets,
                str(webhook.id),
                webhook.payload,
                timeout_s=self.settings.webhook_timeout_s,
            )
            await self._record(url, webhook, token, outcome)
        except Exception:
            # Recording failed (the database is away): the lease makes it due again.
            log.exception("webhook %s: recording the attempt failed", webhook.id)

    async def _record(self, url: str, webhook: Webhook, token: str, outcome: Outcome) -> None:
        retry_in_s = None
        if outcome.error is not None:
            retry_in_s = retry_delay(webhook.tries + 1, self.settings.webhook_retry_delays)
        async with self.sessionmaker() as session, session.begin():
            recorded = await queries.record_attempt(
                session,
                webhook,
                token=token,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_s=outcome.duration_s,
                retry_in_s=retry_in_s,
                worker=self.worker,
            )
            if recorded is None:
                log.warning("webhook %s: lease lost before its attempt was recorded", webhook.id)
                return
            disabled = False
            if outcome.error is None:
                await endpoint.note_success(session, url)
            else:
                disabled = await endpoint.note_failure(
                    session, url, disable_after_s=self.settings.webhook_disable_after_s
                )
        self._report(endpoint.endpoint_host(url), webhook, outcome, recorded, disabled=disabled)

    def _report(
        self,
        host: str,
        webhook: Webhook,
        outcome: Outcome,
        recorded: queries.Recorded,
        *,
        disabled: bool,
    ) -> None:
        """Metrics and a log line for every failed attempt (with when it is tried next)."""
        if recorded.status is DeliveryStatus.DELIVERED:
            self.metrics.attempts.labels(outcome="delivered").inc()
            if webhook.attempts == webhook.tries:  # never replayed: its age is its latency
                self.metrics.latency.observe(recorded.age_s)
        elif recorded.status is DeliveryStatus.FAILED:
            self.metrics.attempts.labels(outcome="failed").inc()
            log.error(
                "webhook %s to %s failed (%s); its retry schedule is spent, it stays failed "
                "until replayed",
                webhook.id,
                host,
                outcome.error,
            )
        else:
            self.metrics.attempts.labels(outcome="retrying").inc()
            when = recorded.next_attempt_at.isoformat() if recorded.next_attempt_at else "?"
            log.warning(
                "webhook %s to %s failed (%s); next attempt at %s",
                webhook.id,
                host,
                outcome.error,
                when,
            )
        if disabled:
            self.metrics.disablings.inc()
            log.error(
                "webhook endpoint %s disabled: every attempt failed for %g s; deliveries wait "
                "until POST /v1/webhooks/enable",
                host,
                self.settings.webhook_disable_after_s,
            )
