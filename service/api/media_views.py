"""`/v1/media/{customer_media_id}/summary` and `/timeline`: what is in one media, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import SessionDep
from service.api.media_paths import MediaIdPath
from service.search import views
from service.search.schemas import MediaSummary, Timeline
from service.text import Text

router = APIRouter(prefix="/v1/media", tags=["media"])

_PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid bearer token"},
    404: {"description": "`reason`: unknown_media, not_finished or not_indexed (retry soon)"},
}


@router.get("/{customer_media_id}/summary", summary="What is in a media", responses=_PROBLEMS)
async def get_summary(customer_media_id: MediaIdPath, session: SessionDep) -> MediaSummary:
    """From the media's newest finished analysis: the concepts seen and heard longest, the
    faces (named gallery identities first, with screen time), the IAB topics, the first words
    spoken, and the duration. `404` with a `reason` while there is none."""
    return await views.summary(session, customer_media_id)


@router.get(
    "/{customer_media_id}/timeline",
    summary="What is seen and heard, second by second",
    responses={**_PROBLEMS, 422: {"description": "A range the media does not have"}},
)
async def get_timeline(
    customer_media_id: MediaIdPath,
    session: SessionDep,
    start: Annotated[int, Query(ge=0, description="First second.")] = 0,
    end: Annotated[
        int | None,
        Query(
            gt=0,
            description="Second after the last (default start + 60; at most 600 s "
            "per request; clipped to the media's duration).",
        ),
    ] = None,
    type: Annotated[
        list[Text] | None,
        Query(max_length=20, description="Only detection types starting with one of these."),
    ] = None,
) -> Timeline:
    """For each second in [start, end): the concepts, faces (by identity name when known),
    keywords and speech whose occurrences cover it, with their confidence and time range."""
    types = [t.strip() for t in type or [] if t.strip()]
    return await views.timeline(session, customer_media_id, start=start, end=end, types=types)
