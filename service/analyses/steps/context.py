"""What every worker step needs: resources, its identity, and the ways a step can end."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.lifecycle import Lifecycle, backoff_delay, schedule, utcnow
from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.analyses.steps.leases import lock_claimed
from service.resources import Resources
from service.settings import Settings
from service.valossa import ValossaApiError, ValossaAuthError, ValossaClient

log = logging.getLogger(__name__)


class Step:
    """The context of one worker's steps: who it is and what it may use."""

    def __init__(self, resources: Resources, *, worker: str) -> None:
        self.resources = resources
        self.worker = worker
        self.lifecycle = Lifecycle(
            actor=worker, notify_cms=bool(resources.settings.cms_webhook_url)
        )

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    @property
    def valossa(self) -> ValossaClient:
        return self.resources.valossa

    @property
    def http(self) -> httpx.AsyncClient:
        return self.resources.http

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_s)

    def now(self) -> datetime:
        return utcnow()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends without error."""
        async with self.resources.sessionmaker() as session, session.begin():
            yield session

    def callback_url(self, analysis_id: uuid.UUID) -> str:
        """Where Valossa tells us that this analysis's job ended."""
        base = self.settings.public_base_url.rstrip("/")
        return f"{base}/callbacks/valossa/{self.resources.tokens.token_for(analysis_id)}"

    async def known_job_ids(self, customer_media_id: str) -> set[str]:
        """Valossa job ids that our analyses of this media already own."""
        async with self.resources.sessionmaker() as session:
            rows = await session.scalars(
                select(Analysis.job_id).where(
                    Analysis.customer_media_id == customer_media_id, Analysis.job_id.is_not(None)
                )
            )
            return {job_id for job_id in rows if job_id}

    def holds_lease(self, analysis: Analysis) -> bool:
        """True while this worker's claim on `analysis` has not run out."""
        return analysis.claimed_until is not None and analysis.claimed_until > utcnow()

    def extend_claim(self, analysis: Analysis) -> None:
        """Renew the claim for a full lease; the row is due again when it runs out."""
        analysis.claimed_by = self.worker
        analysis.claimed_until = analysis.next_attempt_at = utcnow() + self.lease

    def release(self, analysis: Analysis, *, delay_s: float) -> None:
        """Give up the claim; the analysis is due again after `delay_s`."""
        schedule(analysis, delay_s)

    async def retry_later(
        self, analysis_id: uuid.UUID, reason: str, *, min_delay_s: float = 0.0
    ) -> None:
        """A transient failure: back off exponentially (per analysis) and try again."""
        async with self.transaction() as session:
            analysis = await lock_claimed(session, analysis_id, self.worker)
            if analysis is None:
                return
            analysis.attempts += 1
            wait = max(
                min_delay_s, backoff_delay(analysis.attempts, cap_s=self.settings.max_backoff_s)
            )
            analysis.error = reason
            self.release(analysis, delay_s=wait)
            if analysis.attempts in (1, 5) or analysis.attempts % 20 == 0:
                self.lifecycle.note(session, analysis, f"retrying in {wait:.1f}s: {reason}")
        log.warning("analysis %s: %s; retry #%d", analysis_id, reason, analysis.attempts)

    async def fail(self, analysis_id: uuid.UUID, reason: str) -> None:
        """A permanent failure: the analysis ends as failed with `reason`."""
        async with self.transaction() as session:
            analysis = await lock_claimed(session, analysis_id, self.worker)
            if analysis is None:
                return
            self.lifecycle.move(session, analysis, AnalysisStatus.FAILED, reason=reason)

    async def fail_or_retry(self, analysis_id: uuid.UUID, exc: ValossaApiError, what: str) -> None:
        """Valossa refused a call: a wrong API key is the operator's to fix, so keep retrying;
        any other refusal (bad URL, bad gallery...) will not change, so the analysis fails."""
        messages = "; ".join(exc.messages) or str(exc)
        if isinstance(exc, ValossaAuthError):
            await self.retry_later(analysis_id, f"{what}: Valossa refused the API key ({messages})")
        else:
            await self.fail(analysis_id, f"Valossa refused {what}: {messages}")
