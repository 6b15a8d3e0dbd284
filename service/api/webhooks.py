"""`/v1/webhooks`: the CMS notifications: deliveries, replay, the endpoint; and their payload."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from service.api.deps import ResourcesDep, SessionDep
from service.webhooks import flows
from service.webhooks.models import DeliveryStatus
from service.webhooks.schemas import AnalysisEndedEvent, DeliveryPage, DeliveryView, EndpointView

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid bearer token"},
    422: {"description": "Invalid request (problem details list each error)"},
}


@router.get(
    "/deliveries", summary="List webhook deliveries, newest first", responses={400: {}, **_PROBLEMS}
)
async def list_deliveries(
    session: SessionDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    analysis_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DeliveryPage:
    """Every notification owed to the CMS (`pending`), received (`delivered`) or given up
    (`failed`), optionally of one analysis, each with its latest attempts (when, the CMS's
    status or the error, when it is tried next). Pass a page's `next_cursor` as `cursor` (with
    the same filters) for the next page; `400` for a cursor this API did not make."""
    return await flows.list_deliveries(
        session, status=status, analysis_id=analysis_id, limit=limit, cursor=cursor
    )


@router.get(
    "/deliveries/{delivery_id}", summary="One webhook delivery", responses={404: {}, **_PROBLEMS}
)
async def get_delivery(delivery_id: uuid.UUID, session: SessionDep) -> DeliveryView:
    """One delivery (its id is the `webhook-id` header the CMS received) and its attempts."""
    return await flows.get_delivery(session, delivery_id)


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a webhook again",
    responses={404: {}, 409: {}, **_PROBLEMS},
)
async def replay_delivery(
    delivery_id: uuid.UUID, session: SessionDep, resources: ResourcesDep
) -> DeliveryView:
    """Queue the delivery to be sent again at once, whatever its status, with the same
    `webhook-id` and payload and a fresh retry schedule (`202`; follow it with `GET`). `409`
    while it is being sent, when the endpoint is disabled, or when webhooks are off."""
    return await flows.replay(session, resources.settings, delivery_id)


@router.get("/endpoint", summary="The CMS webhook endpoint's health", responses=_PROBLEMS)
async def get_endpoint(session: SessionDep, resources: ResourcesDep) -> EndpointView:
    """Whether deliveries go out (`enabled`), fail (`failing`, since when) or are suspended
    (`disabled` after WEBHOOK_DISABLE_AFTER_S of failures), and the backlog."""
    return await flows.endpoint_view(session, resources.settings)


@router.post(
    "/enable", summary="Resume a disabled webhook endpoint", responses={409: {}, **_PROBLEMS}
)
async def enable_endpoint(session: SessionDep, resources: ResourcesDep) -> EndpointView:
    """Resume deliveries: the endpoint is enabled, its failure streak starts over and every
    pending delivery is sent at once. Deliveries that failed meanwhile stay failed: replay
    them one by one. `409` when webhooks are off."""
    return await flows.enable(session, resources.settings)


#: The webhook the CMS receives, for the OpenAPI document's `webhooks` section.
notifications = APIRouter()


@notifications.post("analysis.ended", summary="An analysis ended", status_code=204)
def analysis_ended(
    body: AnalysisEndedEvent,
    webhook_id: Annotated[
        str, Header(alias="webhook-id", description="Unique per notification; the same on retries.")
    ],
    webhook_timestamp: Annotated[
        str,
        Header(alias="webhook-timestamp", description="Seconds since the epoch of this attempt."),
    ],
    webhook_signature: Annotated[
        str,
        Header(
            alias="webhook-signature",
            description="`v1,<base64 HMAC-SHA256>` per CMS_WEBHOOK_SECRET, space-separated.",
        ),
    ],
) -> None:
    """POSTed to CMS_WEBHOOK_URL when an analysis ends (`type`: `analysis.finished`,
    `analysis.failed` or `analysis.canceled`), signed as Standard Webhooks: verify it with
    any Standard Webhooks library and CMS_WEBHOOK_SECRET. Answer 2xx within
    WEBHOOK_TIMEOUT_S to acknowledge it; anything else is retried with the same `webhook-id`
    (de-duplicate on it)."""
