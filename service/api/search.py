"""`/v1/search`: which media show or say something, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import StringConstraints

from service.api.deps import ResourcesDep, SessionDep
from service.search import flows
from service.search.cursor import SearchCursors
from service.search.schemas import SearchPage
from service.text import TEXT_RULE, Text

router = APIRouter(prefix="/v1/search", tags=["search"])

Words = Annotated[str, StringConstraints(min_length=1, max_length=200), TEXT_RULE]
FaceName = Annotated[str, StringConstraints(min_length=1, max_length=1024), TEXT_RULE]

_PROBLEMS: dict[int | str, dict[str, str]] = {
    400: {"description": "A cursor that this search did not produce"},
    401: {"description": "Missing or invalid bearer token"},
    422: {"description": "Invalid parameters (problem details say which)"},
}


def search_cursors(resources: ResourcesDep) -> SearchCursors:
    """Cursor signing with the process's secret."""
    secret = resources.settings.callback_signing_secret
    return SearchCursors(secret.get_secret_value() if secret else "")


@router.get("", summary="Search the media by what Valossa saw and heard", responses=_PROBLEMS)
async def search(
    session: SessionDep,
    cursors: Annotated[SearchCursors, Depends(search_cursors)],
    q: Annotated[
        Words | None,
        Query(
            description="Words to find in labels, face names "
            "and speech; case, plurals and small typos in labels do not matter.",
        ),
    ] = None,
    type: Annotated[
        list[Text] | None,
        Query(
            max_length=20,
            description="Only matches whose detection type starts with one of "
            "these (repeatable), e.g. `visual.` or `human.face`.",
        ),
    ] = None,
    min_confidence: Annotated[
        float | None,
        Query(
            ge=0,
            le=1,
            description="Only matches at least this confident (matches without a "
            "confidence, such as speech and keywords, are kept).",
        ),
    ] = None,
    face: Annotated[
        FaceName | None,
        Query(
            description="Only media where this face appears: "
            "a gallery identity's name (any case) or its face id.",
        ),
    ] = None,
    start: Annotated[
        float | None, Query(alias="from", ge=0, description="Only matches at or after this second.")
    ] = None,
    end: Annotated[
        float | None, Query(alias="to", ge=0, description="Only matches at or before this second.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> SearchPage:
    """Media whose labels, face identities or speech match `q`, best first, each with where it
    matched (`start`/`end` in seconds, null for video-level detections such as IAB topics).
    Only the newest finished analysis of each media is searched. Filters narrow the matches:
    `type` (prefixes), `min_confidence`, `from`/`to` (seconds within the video), and `face`
    (media where that identity appears; alone it lists them). Pass `next_cursor` as `cursor`,
    with the same filters, for the next page; `400` for a cursor from another search."""
    types = [t.strip() for t in type or [] if t.strip()]
    request = flows.SearchRequest(
        q=q.strip() or None if q else None,
        types=types,
        min_confidence=min_confidence,
        face=face.strip() or None if face else None,
        start=start,
        end=end,
        limit=limit,
        cursor=cursor,
    )
    return await flows.search(session, cursors, request)
