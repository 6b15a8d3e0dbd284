"""The one place that changes an analysis's status, and records each change as an event."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis, AnalysisEvent, Webhook
from service.analyses.states import TERMINAL, AnalysisStatus, transition

log = logging.getLogger(__name__)

#: Event type of the CMS webhook sent when an analysis ends.
ANALYSIS_ENDED = "analysis.ended"


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
    ) -> None:
        """Change `analysis` to `target` (if allowed), write the event, enqueue the webhook."""
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
            session.add(
                Webhook(
                    analysis_id=analysis.id,
                    event_type=ANALYSIS_ENDED,
                    payload=ended_payload(analysis),
                    next_attempt_at=now,
                )
            )

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


def ended_payload(analysis: Analysis) -> dict[str, object]:
    """The body of the CMS webhook for an analysis that ended."""
    return {
        "type": ANALYSIS_ENDED,
        "analysis_id": str(analysis.id),
        "customer_media_id": analysis.customer_media_id,
        "status": analysis.status,
        "valossa_job_id": analysis.job_id,
        "error": analysis.error,
    }
