"""The media page: a media's summary and its timeline strips, from the search package's views.

The overview strip covers the whole media; the zoomed strip is one window of the timeline
API (`service.search.views.timeline_of`, with its limits and checks), moved and resized by
links. Every query reads one media's rows by its key (see bench/ui_media.py for the plans).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Unprocessable
from service.search import views as search_views
from service.search.schemas import TimelineItem
from service.ui import strips, windows
from service.ui.params import number, whole_number
from service.ui.windows import Window

#: Items listed under the zoomed strip (the strip itself draws them all).
LISTED_ITEMS = 200
#: The overview merges occurrences closer than this many drawing units (~0.4% of the media):
#: a 3-hour film's strip stays a few thousand shapes; the zoomed window shows the detail.
OVERVIEW_MERGE_UNITS = 4.0
#: Type prefixes offered by the filter (the timeline API takes any prefix).
TYPE_CHOICES = ("human.face", "visual.", "audio.", "audio.speech", "external.", "topic.")


@dataclass(frozen=True)
class MediaQuery:
    """What the page's URL asks for, as typed (checked by `media_page`)."""

    start: str = ""
    end: str = ""
    at: str = ""
    types: tuple[str, ...] = ()


def media_url(customer_media_id: str, **params: Any) -> str:
    """The media page's URL (the id quoted whole: it may hold `/`, `?` or `..`)."""
    url = "/ui/media/" + quote(customer_media_id, safe="")
    wanted = [(k, v) for k, v in params.items() if v not in (None, "", (), [])]
    if not wanted:
        return url
    pairs = [(k, item) for k, v in wanted for item in (v if isinstance(v, list | tuple) else [v])]
    return f"{url}?{urlencode(pairs)}"


async def media_page(
    session: AsyncSession, customer_media_id: str, query: MediaQuery
) -> tuple[dict[str, Any], int]:
    """The page's context and status (422, with the default window, for a window it refuses)."""
    media = await search_views.indexed_media(session, customer_media_id)
    summary = await search_views.summary_of(session, media)
    types = [t for t in query.types if t]
    problem = None
    try:
        start = whole_number(query.start, "start")
        end = whole_number(query.end, "end")
        marker = number(query.at, "at")
        timeline = await search_views.timeline_of(
            session, media, start=start or 0, end=end, types=types
        )
    except Unprocessable as exc:
        problem, marker = exc.detail, None
        timeline = await search_views.timeline_of(session, media, start=0, end=None, types=types)
    window = Window(timeline.start, timeline.end)
    zoomed = _distinct(item for second in timeline.seconds for item in second.items)
    # The overview reads every occurrence of this one media (its primary-key prefix).
    everything = await search_views.items_between(
        session, media, 0, float(windows.last_second(media.duration_s or 1e9)), types
    )
    total = media.duration_s or max((i.end for i in everything), default=float(window.end))
    overview = strips.strip(
        everything,
        start=0.0,
        end=float(windows.last_second(total)),
        highlight=window,
        marker_s=marker,
        segments=windows.segments(total, window.length),
        merge_units=OVERVIEW_MERGE_UNITS,
    )

    def link(to: Window | None) -> str | None:
        if to is None:
            return None
        return media_url(customer_media_id, start=to.start, end=to.end, type=types)

    context = {
        "summary": summary,
        "duration_s": media.duration_s,
        "window": window,
        "zoomed": strips.strip(zoomed, start=window.start, end=window.end, marker_s=marker),
        "overview": overview,
        "items": sorted(zoomed, key=lambda i: (i.start, i.type, i.label))[:LISTED_ITEMS],
        "items_total": len(zoomed),
        "listed_max": LISTED_ITEMS,
        "problem": problem,
        "types": types,
        "type_choices": sorted({*TYPE_CHOICES, *types}),
        "page_url": media_url(customer_media_id),
        "segment_url": link,
        "zoom": {
            "earlier": link(windows.earlier(window)),
            "zoom_in": link(windows.zoom_in(window)),
            "zoom_out": link(windows.zoom_out(window, total)),
            "later": link(windows.later(window, total)),
        },
    }
    return context, 422 if problem else 200


def _distinct(items: Any) -> list[TimelineItem]:
    # The timeline lists an item under every second it covers: the same object each time.
    seen: dict[int, TimelineItem] = {}
    for item in items:
        seen.setdefault(id(item), item)
    return list(seen.values())
