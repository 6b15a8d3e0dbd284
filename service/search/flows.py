"""The search use case: from the CMS's query and filters to a page of media, best first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Unprocessable
from service.search import queries
from service.search.cursor import SearchCursors, search_digest
from service.search.extraction import FACE_TYPE, SPEECH_TYPE
from service.search.schemas import SearchItem, SearchMatch, SearchPage


@dataclass(frozen=True)
class SearchRequest:
    """What the CMS asked for (already checked field by field by the HTTP layer)."""

    q: str | None
    types: list[str]
    min_confidence: float | None
    face: str | None
    start: float | None
    end: float | None
    limit: int
    cursor: str | None

    def digest(self) -> str:
        return search_digest(
            {
                "q": self.q,
                "types": sorted(set(self.types)),
                "min_confidence": self.min_confidence,
                "face": self.face,
                "from": self.start,
                "to": self.end,
            }
        )


async def search(
    session: AsyncSession, cursors: SearchCursors, request: SearchRequest
) -> SearchPage:
    """Media whose labels, face names or speech match, best first, one page at a time."""
    _check(request)
    digest = request.digest()
    after = cursors.decode(request.cursor, digest) if request.cursor else None
    filters = await _resolve(session, request)
    ranked = await queries.rank_media(session, filters, after=after, limit=request.limit + 1)
    page, more = ranked[: request.limit], len(ranked) > request.limit
    matches = await queries.page_matches(session, filters, [m.analysis_id for m in page])
    last = page[-1] if page else None
    return SearchPage(
        items=[
            SearchItem(
                customer_media_id=media.customer_media_id,
                analysis_id=media.analysis_id,
                title=media.title,
                score=float(media.score),
                matches=[SearchMatch(**match) for match in matches[media.analysis_id]],
            )
            for media in page
        ],
        next_cursor=cursors.encode(digest, last.score, last.analysis_id)
        if more and last is not None
        else None,
    )


def _check(request: SearchRequest) -> None:
    if not request.q and not request.face:
        raise Unprocessable("give a query `q`, a `face`, or both")
    if request.start is not None and request.end is not None and request.end < request.start:
        raise Unprocessable("`to` must not be before `from`")


async def _resolve(session: AsyncSession, request: SearchRequest) -> queries.Filters:
    """Turn the query into label ids, speech lexemes and the filters' SQL values."""
    labels: list[tuple[int, str, float]] = []
    lexemes: list[str] = []
    if request.q:
        labels = await queries.resolve_labels(session, request.q)
        lexemes = await queries.query_lexemes(session, request.q)
    types = sorted(set(request.types))
    return queries.Filters(
        label_ids=[label_id for label_id, _, _ in labels],
        label_weights=[weight for _, _, weight in labels],
        lexemes=lexemes,
        query=request.q,
        type_patterns=[_prefix_pattern(t) for t in types] or None,
        faces_allowed=_allowed(FACE_TYPE, types),
        speech_allowed=_allowed(SPEECH_TYPE, types),
        min_confidence=request.min_confidence,
        start=request.start,
        end=request.end,
        face=request.face,
    )


def _allowed(kind: str, prefixes: list[str]) -> bool:
    return not prefixes or any(kind.startswith(prefix) for prefix in prefixes)


def _prefix_pattern(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
