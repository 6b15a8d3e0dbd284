"""What a worker step is given: the process's resources and its own identity. Plain data."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.callback_trust import CallbackTrust
from service.analyses.lifecycle import Lifecycle
from service.analyses.tokens import CallbackTokens
from service.db import SessionMaker
from service.settings import Settings
from service.valossa import ValossaClient


@dataclass(frozen=True)
class StepContext:
    """Everything a step may use; built once per worker by its composition root."""

    settings: Settings
    sessionmaker: SessionMaker
    valossa: ValossaClient
    #: For our own outbound calls (fetching sources); not Valossa's connection pool.
    http: httpx.AsyncClient
    tokens: CallbackTokens
    #: This worker's name, recorded in claims and events.
    worker: str
    lifecycle: Lifecycle
    #: Whether Valossa's callbacks arrive (read from the database, cached per worker).
    callback_trust: CallbackTrust = field(default_factory=CallbackTrust)

    async def next_check_in(self, session: AsyncSession, suggested_s: float) -> float:
        """Seconds until the next job_status of a job Valossa suggests checking in
        `suggested_s`: the safety-net interval instead while callbacks are trusted."""
        if await self.callback_trust.trusted(session):
            return max(suggested_s, self.settings.callback_safety_poll_s)
        return suggested_s

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends without error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    def callback_url(self, analysis_id: uuid.UUID) -> str:
        """Where Valossa tells us that this analysis's job ended."""
        base = self.settings.public_base_url.rstrip("/")
        return f"{base}/callbacks/valossa/{self.tokens.token_for(analysis_id)}"
