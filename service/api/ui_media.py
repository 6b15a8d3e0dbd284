"""The operator page's search and media pages (/ui/search, /ui/media/...), over the search API's
flows. Fields arrive as text and are checked by the page, which answers a page, never JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import RedirectResponse
from pydantic import StringConstraints

from service.api.deps import SessionDep
from service.api.search import search_cursors
from service.errors import NotFound
from service.search.cursor import SearchCursors
from service.text import TEXT_RULE, Text
from service.ui.auth import UI_PATH, OperatorDep
from service.ui.media_page import MediaQuery, media_page, media_url
from service.ui.pages import render
from service.ui.search_page import SearchForm, search_page

router = APIRouter(prefix=UI_PATH, include_in_schema=False)

Field = Annotated[str, Query(max_length=64)]
Words = Annotated[str, StringConstraints(max_length=200), TEXT_RULE]
FaceName = Annotated[str, StringConstraints(max_length=1024), TEXT_RULE]
MediaIdText = Annotated[str, StringConstraints(min_length=1, max_length=1024), TEXT_RULE]
Types = Annotated[list[Text] | None, Query(max_length=20)]


@router.get("/search")
async def search(
    operator: OperatorDep,
    session: SessionDep,
    cursors: Annotated[SearchCursors, Depends(search_cursors)],
    q: Annotated[Words, Query()] = "",
    type: Types = None,
    min_confidence: Field = "",
    face: Annotated[FaceName, Query()] = "",
    start: Annotated[str, Query(alias="from", max_length=64)] = "",
    end: Annotated[str, Query(alias="to", max_length=64)] = "",
    cursor: Annotated[str, Query(max_length=512)] = "",
) -> Response:
    form = SearchForm(
        q=q,
        types=tuple(t[:128] for t in type or ()),
        min_confidence=min_confidence,
        face=face,
        start=start,
        end=end,
        cursor=cursor,
    )
    context, status = await search_page(session, cursors, form)
    return render("search.html", context, operator=operator, status_code=status)


@router.get("/media")
async def open_media(
    _: OperatorDep, customer_media_id: Annotated[str, Query(max_length=1024)] = ""
) -> Response:
    """The "open a media" form: to the media's page."""
    if not customer_media_id.strip():
        return RedirectResponse(f"{UI_PATH}/search", status_code=303)
    return RedirectResponse(media_url(customer_media_id.strip()), status_code=303)


@router.get("/media/{customer_media_id:path}")
async def media(
    customer_media_id: Annotated[MediaIdText, Path()],
    operator: OperatorDep,
    session: SessionDep,
    start: Field = "",
    end: Field = "",
    at: Field = "",
    type: Types = None,
) -> Response:
    query = MediaQuery(start=start, end=end, at=at, types=tuple(t[:128] for t in type or ()))
    try:
        context, status = await media_page(session, customer_media_id, query)
    except NotFound as exc:
        context = {
            "customer_media_id": customer_media_id,
            "detail": exc.detail,
            "reason": exc.extra.get("reason"),
        }
        return render("media_unavailable.html", context, operator=operator, status_code=404)
    return render("media.html", context, operator=operator, status_code=status)
