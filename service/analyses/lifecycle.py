"""The one place that changes an analysis's status, and records each change as an event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis, AnalysisEvent
from service.analyses.states import TERMINAL, AnalysisStatus, transition
from service.webhooks import outbox

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Timezone-aware now (the database stores timestamptz)."""
    return datetime.now(UTC)


class Lifecycle:
    """Moves analyses between states on behalf of one actor (an API request or a worker)."""

    def __init__(self, *, actor: str, notify_cms: bool) -> None:
        self.actor = actor
        self.notify_cms = notify_cms

    def move(
        self,
        session: AsyncSession,
        analysis: Analysis,
        target: AnalysisStatus,
        *,
        reason: str | None = None,
        deadline: timedelta | None = None,
        stored: Sequence[str] = (),
    ) -> None:
        """Change `analysis` to `target` (if allowed), write the event, enqueue the webhook
        (which lists the result types `stored`, when it finished)."""
        current = AnalysisStatus(analysis.status)
        analysis.status = transition(current, target)
        now = utcnow()
        if target in TERMINAL:
            analysis.next_attempt_at = None
            analysis.claimed_until = None
            analysis.claimed_by = None
            analysis.deadline_at = None
            analysis.finished_at = now
            if target is AnalysisStatus.FAILED and reason:
                analysis.error = reason
            elif target is AnalysisStatus.FINISHED:
                # A transient error on the way (kept in the events) is not the outcome.
                analysis.error = None
        elif deadline is not None:
            analysis.deadline_at = now + deadline
            analysis.overdue_since = None
        session.add(
            AnalysisEvent(
                analysis_id=analysis.id,
                from_status=current,
                to_status=target,
                valossa_status=analysis.valossa_status,
                reason=reason,
                actor=self.actor,
            )
        )
        log.info(
            "analysis %s (%s): %s -> %s%s",
            analysis.id,
            analysis.customer_media_id,
            current,
            target,
            f" ({reason})" if reason else "",
        )
        if target in TERMINAL and self.notify_cms:
            outbox.enqueue(session, outbox.analysis_ended(analysis, stored=stored, at=now))

    def created(self, session: AsyncSession, analysis: Analysis, *, deadline: timedelta) -> None:
        """Record the birth of a new (pending) analysis: its deadline and its first event."""
        analysis.deadline_at = utcnow() + deadline
        session.add(
            AnalysisEvent(
                analysis_id=analysis.id,
                from_status=None,
                to_status=analysis.status,
                reason="created",
                actor=self.actor,
            )
        )
        log.info("analysis %s (%s): created", analysis.id, analysis.customer_media_id)

    def note(self, session: AsyncSession, analysis: Analysis, reason: str) -> None:
        """Record a notable step that is not a status change (e.g. Valossa's status moved)."""
        session.add(
            AnalysisEvent(
                analysis_id=analysis.id,
                from_status=analysis.status,
                to_status=analysis.status,
                valossa_status=analysis.valossa_status,
                reason=reason,
                actor=self.actor,
            )
        )
