"""The search page: the form's fields through the search API's own flow, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import BadRequest, Unprocessable
from service.search import flows
from service.search.cursor import SearchCursors
from service.search.queries import MATCHES_PER_MEDIA
from service.search.schemas import SearchMatch
from service.ui import windows
from service.ui.media_page import TYPE_CHOICES, media_url
from service.ui.params import number

#: Media per page of results.
PAGE_SIZE = 20


@dataclass(frozen=True)
class SearchForm:
    """The search form's fields, as typed."""

    q: str = ""
    types: tuple[str, ...] = ()
    min_confidence: str = ""
    face: str = ""
    start: str = ""
    end: str = ""
    cursor: str = ""

    def params(self) -> list[tuple[str, str]]:
        """The form as a query string's pairs (empty fields left out)."""
        pairs = [("q", self.q), *(("type", t) for t in self.types)]
        pairs += [("min_confidence", self.min_confidence), ("face", self.face)]
        pairs += [("from", self.start), ("to", self.end)]
        return [(name, value) for name, value in pairs if value]


async def search_page(
    session: AsyncSession, cursors: SearchCursors, form: SearchForm
) -> tuple[dict[str, Any], int]:
    """The page's context and status: results, or the reason there are none."""
    types = tuple(t.strip() for t in form.types if t.strip())
    context: dict[str, Any] = {
        "form": form,
        "types": types,
        "type_choices": sorted({*TYPE_CHOICES, *types}),
        "results": None,
        "error": None,
        "next_url": None,
        "first_url": None,
        "matches_cap": MATCHES_PER_MEDIA,
    }
    if not form.q.strip() and not form.face.strip():
        if form.params() or form.cursor:
            context["error"] = "Type words to search for, a face, or both."
            return context, 422
        return context, 200  # the empty form of a first visit
    try:
        request = flows.SearchRequest(
            q=form.q.strip() or None,
            types=list(types),
            min_confidence=number(form.min_confidence, "min confidence", high=1.0),
            face=form.face.strip() or None,
            start=number(form.start, "from"),
            end=number(form.end, "to"),
            limit=PAGE_SIZE,
            cursor=form.cursor or None,
        )
        page = await flows.search(session, cursors, request)
    except (BadRequest, Unprocessable) as exc:
        context["error"] = exc.detail
        return context, exc.status_code
    context["results"] = [
        {
            "item": item,
            "url": media_url(item.customer_media_id),
            "matches": [_match(item.customer_media_id, m) for m in item.matches],
        }
        for item in page.items
    ]
    if page.next_cursor:
        next_page = [*form.params(), ("cursor", page.next_cursor)]
        context["next_url"] = "/ui/search?" + urlencode(next_page)
    if form.cursor:
        context["first_url"] = "/ui/search?" + urlencode(form.params())
    return context, 200


def _match(customer_media_id: str, match: SearchMatch) -> dict[str, Any]:
    """A match and the media page's window around it (video-level matches have no time)."""
    url = None
    if match.start is not None and match.end is not None:
        window = windows.around(match.start, match.end)
        url = media_url(customer_media_id, start=window.start, end=window.end, at=match.start)
    return {"match": match, "url": url}
