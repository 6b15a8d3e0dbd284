"""Writing a notification: the payload of an ended analysis, added to the caller's transaction.

The delivery row commits (or not) with the state change it tells about, so the CMS hears of
every analysis that ended, and only of those. A trigger NOTIFYs the workers at commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.webhooks.models import Webhook
from service.webhooks.schemas import AnalysisEndedData, AnalysisEndedEvent, AnalysisLinks, EventType

_EVENT_TYPES: dict[AnalysisStatus, EventType] = {
    AnalysisStatus.FINISHED: "analysis.finished",
    AnalysisStatus.FAILED: "analysis.failed",
    AnalysisStatus.CANCELED: "analysis.canceled",
}


def analysis_ended(
    analysis: Analysis, *, stored: Sequence[str], at: datetime
) -> AnalysisEndedEvent:
    """The notification of an analysis that reached a terminal state at `at`."""
    status = AnalysisStatus(analysis.status)
    finished = status is AnalysisStatus.FINISHED
    media = quote(analysis.customer_media_id, safe="")
    return AnalysisEndedEvent(
        type=_EVENT_TYPES[status],
        timestamp=at,
        data=AnalysisEndedData(
            analysis_id=analysis.id,
            customer_media_id=analysis.customer_media_id,
            status=status.value,
            valossa_job_id=analysis.job_id,
            result_types=list(stored) if finished else [],
            error=analysis.error if status is AnalysisStatus.FAILED else None,
            links=AnalysisLinks(
                analysis=f"/v1/analyses/{analysis.id}",
                metadata={
                    result_type: f"/v1/media/{media}/metadata?type={result_type}"
                    for result_type in (stored if finished else ())
                },
            ),
        ),
    )


def enqueue(session: AsyncSession, event: AnalysisEndedEvent) -> Webhook:
    """Add the delivery of `event` to the session's transaction, due at once."""
    webhook = Webhook(
        id=uuid.uuid4(),
        analysis_id=event.data.analysis_id,
        event_type=event.type,
        payload=event.model_dump(mode="json"),
        # The database's clock, as every claim compares with it.
        next_attempt_at=func.now(),
    )
    session.add(webhook)
    return webhook
