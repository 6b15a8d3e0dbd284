"""`/v1/analyses`: ask for an analysis, follow it, list them, cancel one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import StringConstraints

from service.analyses.flows import analyses as flows
from service.analyses.flows import cancel as flows_cancel
from service.analyses.inputs import MediaId
from service.analyses.schemas import AnalysisCreate, AnalysisPage, AnalysisView, EventList
from service.analyses.states import AnalysisStatus
from service.api.deps import ResourcesDep, SessionDep, reader_of
from service.api.direct_route import DirectRoute
from service.text import TEXT_RULE

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255), TEXT_RULE]

router = APIRouter(prefix="/v1/analyses", tags=["analyses"])
#: The read a CMS polls, served by a DirectRoute and routed before every other route.
reads = APIRouter(prefix="/v1/analyses", tags=["analyses"], route_class=DirectRoute)

# Every route also documents the errors of the edge (service/api/openapi.py).
_PROBLEMS: dict[int | str, dict[str, str]] = {
    422: {"description": "Invalid request (problem details list each error)"},
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask for an analysis of a media",
    responses={
        200: {"model": AnalysisView, "description": "Replay of an earlier idempotent request"},
        **_PROBLEMS,
    },
)
async def create_analysis(
    body: AnalysisCreate,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, Header(alias="Idempotency-Key")] = None,
) -> AnalysisView:
    """Store the request and answer at once with `202 Accepted`; a worker submits it to
    Valossa and follows it to the end (Valossa being down never loses a request).

    Follow the analysis at the URL in `Location`, or wait for the webhook. A new analysis for a
    `customer_media_id` that already has one is a re-analysis: the newest finished analysis
    becomes the media's metadata. Send an `Idempotency-Key` header to make retries safe: the
    same key and body return the original analysis (`200`); the same key with another body is
    refused (`422`).
    """
    created = await flows.create_analysis(
        session, resources.settings, body, idempotency_key=idempotency_key
    )
    if not created.new:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/analyses/{created.view.id}"
    return created.view


@router.get(
    "",
    summary="List analyses, newest first",
    responses={400: {"description": "Invalid cursor"}, **_PROBLEMS},
)
async def list_analyses(
    session: SessionDep,
    customer_media_id: Annotated[MediaId | None, Query()] = None,
    status: Annotated[AnalysisStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AnalysisPage:
    """Analyses newest first, optionally only of one media and/or in one status. Pass a page's
    `next_cursor` as `cursor` (with the same filters) to get the next page; `400` for a cursor
    that was not made by this API."""
    return await flows.list_analyses(
        session, customer_media_id=customer_media_id, status=status, limit=limit, cursor=cursor
    )


@reads.get("/{analysis_id}", summary="One analysis", responses={404: {}, **_PROBLEMS})
async def get_analysis(analysis_id: uuid.UUID, request: Request) -> AnalysisView:
    """The analysis: our status, Valossa's own status, the inputs, and per result type
    whether it is stored (with size and sha256) or absent. `overdue` flags an analysis stuck
    past its deadline."""
    return await flows.get_analysis(reader_of(request), analysis_id)


@router.get(
    "/{analysis_id}/events", summary="History of an analysis", responses={404: {}, **_PROBLEMS}
)
async def get_events(analysis_id: uuid.UUID, session: SessionDep) -> EventList:
    """Every state change and notable step of the analysis (callbacks, Valossa status
    changes, retries), oldest first, with who made it and why."""
    return await flows.analysis_events(session, analysis_id)


@router.post(
    "/{analysis_id}/cancel",
    summary="Cancel an analysis",
    responses={
        202: {"model": AnalysisView, "description": "Cancel requested at Valossa, not final yet"},
        404: {},
        409: {},
        503: {},
        **_PROBLEMS,
    },
)
async def cancel_analysis(
    analysis_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, response: Response
) -> AnalysisView:
    """Cancel an analysis that has not ended. Before it reaches Valossa it is canceled at
    once; once Valossa has the job, it is canceled there first (Valossa only allows this
    while the job waits). `200` when it is canceled; `202` when Valossa may have accepted
    the cancel without confirming it (`cancel_requested_at` is set; the analysis ends as
    `canceled` once Valossa confirms, or — had the job already started — runs to its end).
    `409` says why it cannot be canceled (already being analysed, being submitted right now,
    already ended); `503` when Valossa is unreachable (nothing changed, retry later)."""
    canceled = await flows_cancel.cancel_analysis(
        session, resources.settings, resources.valossa, analysis_id
    )
    if not canceled.complete:
        response.status_code = status.HTTP_202_ACCEPTED
    return canceled.view
