"""What the CMS receives (the webhook payload) and what the CMS API shows of deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from service.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookEndpoint

EventType = Literal["analysis.finished", "analysis.failed", "analysis.canceled"]


class AnalysisLinks(BaseModel):
    """Where the CMS reads more, as paths under the service's base URL (the one it calls)."""

    analysis: str = Field(description="The analysis: `GET` this path.", examples=["/v1/analyses/…"])
    metadata: dict[str, str] = Field(
        description="Per stored result type, the media's metadata of that type (the newest "
        "finished analysis of the media). Empty unless the analysis finished.",
        examples=[{"core": "/v1/media/cms-42/metadata?type=core"}],
    )


class AnalysisEndedData(BaseModel):
    """The analysis that ended."""

    analysis_id: uuid.UUID
    customer_media_id: str
    status: Literal["finished", "failed", "canceled"]
    valossa_job_id: str | None = Field(description="Valossa's job id; null if never submitted.")
    result_types: list[str] = Field(
        description="Result types stored (finished only; a requested type Valossa did not "
        "produce, such as speech of a silent video, is not listed)."
    )
    error: str | None = Field(description="Why it failed; null otherwise.")
    links: AnalysisLinks


class AnalysisEndedEvent(BaseModel):
    """The body of every CMS webhook: an analysis ended."""

    type: EventType
    timestamp: datetime = Field(description="When the analysis ended (UTC).")
    data: AnalysisEndedData


class AttemptView(BaseModel):
    """One attempt to deliver a webhook."""

    at: datetime
    duration_ms: int
    status_code: int | None = Field(description="The CMS's HTTP status; null if none came.")
    error: str | None = Field(description="What went wrong; null when delivered.")
    delivered: bool
    next_attempt_at: datetime | None

    @classmethod
    def build(cls, attempt: WebhookAttempt) -> AttemptView:
        return cls(
            at=attempt.at,
            duration_ms=attempt.duration_ms,
            status_code=attempt.status_code,
            error=attempt.error,
            delivered=attempt.delivered,
            next_attempt_at=attempt.next_attempt_at,
        )


class DeliveryView(BaseModel):
    """A webhook owed to the CMS, where it stands, and its latest attempts."""

    id: uuid.UUID = Field(description="Its `webhook-id` header (the same on every attempt).")
    analysis_id: uuid.UUID | None
    type: str
    status: DeliveryStatus
    created_at: datetime
    attempt_count: int
    next_attempt_at: datetime | None = Field(description="Pending only: when it is sent next.")
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    payload: dict[str, Any] = Field(description="The body sent (an `AnalysisEndedEvent`).")
    attempts: list[AttemptView] = Field(description="The latest attempts, oldest first.")

    @classmethod
    def build(cls, webhook: Webhook, attempts: list[WebhookAttempt]) -> DeliveryView:
        return cls(
            id=webhook.id,
            analysis_id=webhook.analysis_id,
            type=webhook.event_type,
            status=webhook.status,
            created_at=webhook.created_at,
            attempt_count=webhook.attempts,
            next_attempt_at=(
                webhook.next_attempt_at if webhook.status is DeliveryStatus.PENDING else None
            ),
            delivered_at=webhook.delivered_at,
            failed_at=webhook.gave_up_at,
            last_error=webhook.last_error,
            payload=webhook.payload,
            attempts=[AttemptView.build(attempt) for attempt in attempts],
        )


class DeliveryPage(BaseModel):
    """One page of deliveries, newest first."""

    items: list[DeliveryView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class EndpointView(BaseModel):
    """The CMS endpoint (CMS_WEBHOOK_URL) as the deliveries see it."""

    configured: bool = Field(description="False when CMS_WEBHOOK_URL is not set.")
    host: str | None
    state: Literal["unconfigured", "enabled", "failing", "disabled"]
    failing_since: datetime | None = Field(description="First failure since the last success.")
    last_success_at: datetime | None
    last_failure_at: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    pending: int = Field(description="Deliveries waiting to be sent.")
    failed: int = Field(description="Deliveries that gave up (replay them one by one).")

    @classmethod
    def build(
        cls, host: str | None, endpoint: WebhookEndpoint | None, *, pending: int, failed: int
    ) -> EndpointView:
        state: Literal["unconfigured", "enabled", "failing", "disabled"] = "unconfigured"
        if host is not None:
            state = "enabled"
            if endpoint is not None and endpoint.disabled_at is not None:
                state = "disabled"
            elif endpoint is not None and endpoint.failing_since is not None:
                state = "failing"
        return cls(
            configured=host is not None,
            host=host,
            state=state,
            failing_since=endpoint.failing_since if endpoint else None,
            last_success_at=endpoint.last_success_at if endpoint else None,
            last_failure_at=endpoint.last_failure_at if endpoint else None,
            disabled_at=endpoint.disabled_at if endpoint else None,
            disabled_reason=endpoint.disabled_reason if endpoint else None,
            pending=pending,
            failed=failed,
        )
