"""Per-media views over the index: a summary of what is in a media, and its timeline."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.flows.media import current_analysis
from service.errors import NotFound, Unprocessable
from service.search.extraction import FACE_TYPE, SPEECH_TYPE
from service.search.models import (
    SearchDetection,
    SearchFace,
    SearchMedia,
    SearchOccurrence,
    SearchSpeech,
)
from service.search.schemas import (
    MediaSummary,
    SummaryFace,
    SummaryLabel,
    SummaryTopic,
    Timeline,
    TimelineItem,
    TimelineSecond,
)

TOP_LABELS = 25
TOP_FACES = 25
EXCERPT_CHARS = 500
#: Longest timeline one request may ask for (a response stays a few hundred kB at most).
MAX_TIMELINE_S = 600
DEFAULT_TIMELINE_S = 60
#: Types that are not "what is seen or heard" for the summary's top labels.
_NOT_LABELS = ("human.%", "topic.%", "%.keyword.%", "external.%")


async def indexed_media(session: AsyncSession, customer_media_id: str) -> SearchMedia:
    """The index of the media's newest finished analysis, or a 404 problem saying why not."""
    current = await current_analysis(session, customer_media_id)
    indexed = await session.get(SearchMedia, current.id)
    if indexed is None:
        raise NotFound(
            f"the newest analysis of {customer_media_id!r} is finished but not indexed yet; "
            "retry in a few seconds",
            reason="not_indexed",
        )
    return indexed


async def summary(session: AsyncSession, customer_media_id: str) -> MediaSummary:
    """Top labels by screen time, faces (named first), IAB topics, a speech excerpt."""
    return await summary_of(session, await indexed_media(session, customer_media_id))


async def summary_of(session: AsyncSession, media: SearchMedia) -> MediaSummary:
    """The summary of an indexed media (see `summary`)."""
    of_media = SearchDetection.analysis_id == media.analysis_id
    labels = await session.scalars(
        select(SearchDetection)
        .where(of_media, SearchDetection.occurrences > 0, SearchDetection.label.is_not(None))
        .where(*(SearchDetection.type.not_like(pattern) for pattern in _NOT_LABELS))
        .order_by(SearchDetection.screen_time_s.desc().nulls_last(), SearchDetection.seq)
        .limit(TOP_LABELS)
    )
    faces = await session.execute(
        select(SearchFace, SearchDetection.screen_time_s, SearchDetection.occurrences)
        .join(
            SearchDetection,
            and_(
                SearchDetection.analysis_id == SearchFace.analysis_id,
                SearchDetection.seq == SearchFace.detection_seq,
            ),
        )
        .where(SearchFace.analysis_id == media.analysis_id)
        .order_by(
            SearchFace.name.is_(None),
            SearchDetection.screen_time_s.desc().nulls_last(),
            SearchFace.detection_seq,
        )
        .limit(TOP_FACES)
    )
    topics = await session.scalars(
        select(SearchDetection)
        .where(of_media, SearchDetection.type.like("topic.iab%"))
        .order_by(SearchDetection.seq)
    )
    return MediaSummary(
        customer_media_id=media.customer_media_id,
        analysis_id=media.analysis_id,
        title=media.title,
        description=media.description,
        duration_s=media.duration_s,
        metadata_format=media.metadata_format,
        detections_count=media.detections_count,
        occurrences_count=media.occurrences_count,
        top_labels=[
            SummaryLabel(
                type=d.type,
                label=d.label or "",
                screen_time_s=d.screen_time_s,
                occurrences=d.occurrences,
                confidence=d.confidence,
            )
            for d in labels
        ],
        faces=[
            SummaryFace(
                name=face.name,
                face_id=face.face_id,
                gallery_id=face.gallery_id,
                similarity=face.similarity,
                gender=face.gender,
                screen_time_s=screen_time,
                occurrences=occurrences,
            )
            for face, screen_time, occurrences in faces
        ],
        iab_topics=[_topic(d) for d in topics],
        speech_source=media.speech_source,
        speech_excerpt=await _excerpt(session, media),
    )


def _topic(detection: SearchDetection) -> SummaryTopic:
    iab: Any = (detection.ext_refs or {}).get("iab")
    iab = iab if isinstance(iab, dict) else {}
    hierarchy = iab.get("labels_hierarchy")
    hierarchy = hierarchy if isinstance(hierarchy, list) else []
    return SummaryTopic(
        type=detection.type,
        label=detection.label or "",
        iab_id=iab.get("id") if isinstance(iab.get("id"), str) else None,
        hierarchy=[h for h in hierarchy if isinstance(h, str)]
        if isinstance(hierarchy, list)
        else [],
    )


async def _excerpt(session: AsyncSession, media: SearchMedia) -> str | None:
    texts = await session.scalars(
        select(SearchSpeech.text)
        .where(SearchSpeech.analysis_id == media.analysis_id)
        .order_by(SearchSpeech.seq)
        .limit(40)
    )
    excerpt = ""
    for text in texts:
        if len(excerpt) >= EXCERPT_CHARS:
            break
        excerpt = f"{excerpt} {text}".strip()
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    return excerpt or None


async def timeline(
    session: AsyncSession,
    customer_media_id: str,
    *,
    start: int,
    end: int | None,
    types: list[str],
) -> Timeline:
    """What is seen and heard in [start, end), second by second."""
    media = await indexed_media(session, customer_media_id)
    return await timeline_of(session, media, start=start, end=end, types=types)


async def timeline_of(
    session: AsyncSession, media: SearchMedia, *, start: int, end: int | None, types: list[str]
) -> Timeline:
    """The timeline of an indexed media (see `timeline`): the range is checked and clipped."""
    last = math.ceil(media.duration_s) if media.duration_s is not None else None
    if last is not None and start >= max(last, 1):
        raise Unprocessable(f"`start` {start} is past the media's end ({media.duration_s:.3f} s)")
    end = end if end is not None else start + DEFAULT_TIMELINE_S
    if end <= start:
        raise Unprocessable("`end` must be after `start`")
    if end - start > MAX_TIMELINE_S:
        raise Unprocessable(f"a timeline covers at most {MAX_TIMELINE_S} s per request")
    if last is not None:
        end = min(end, max(last, start + 1))
    items = await items_between(session, media, start, end, types)
    seconds = [TimelineSecond(second=s, items=[]) for s in range(start, end)]
    for item in items:
        # [ss, se) covers second i when it overlaps [i, i + 1); an instant covers its own second.
        first = math.floor(item.start)
        stop = max(math.ceil(item.end), first + 1)
        for second in range(max(first, start), min(stop, end)):
            seconds[second - start].items.append(item)
    return Timeline(
        customer_media_id=media.customer_media_id,
        analysis_id=media.analysis_id,
        start=start,
        end=end,
        duration_s=media.duration_s,
        seconds=seconds,
    )


async def items_between(
    session: AsyncSession, media: SearchMedia, start: float, end: float, types: list[str]
) -> list[TimelineItem]:
    """Every occurrence and speech segment of the media that overlaps [start, end), unclipped:
    by type, then most confident first. The range is not limited here (the caller bounds it)."""

    def wanted(kind: str) -> bool:
        return not types or any(kind.startswith(prefix) for prefix in types)

    occurrences = (
        select(
            SearchDetection.type,
            SearchDetection.label,
            SearchFace.name,
            SearchOccurrence.start_s,
            SearchOccurrence.end_s,
            SearchOccurrence.confidence,
            SearchDetection.confidence.label("detection_confidence"),
        )
        .join(
            SearchDetection,
            and_(
                SearchDetection.analysis_id == SearchOccurrence.analysis_id,
                SearchDetection.seq == SearchOccurrence.detection_seq,
            ),
        )
        .outerjoin(
            SearchFace,
            and_(
                SearchFace.analysis_id == SearchOccurrence.analysis_id,
                SearchFace.detection_seq == SearchOccurrence.detection_seq,
            ),
        )
        .where(
            SearchOccurrence.analysis_id == media.analysis_id,
            SearchOccurrence.start_s < end,
            SearchOccurrence.end_s >= start,
        )
    )
    if types:
        occurrences = occurrences.where(
            or_(*(SearchDetection.type.startswith(prefix, autoescape=True) for prefix in types))
        )
    items = [
        TimelineItem(
            type=row.type,
            label=(row.name or row.label or "face") if row.type == FACE_TYPE else row.label or "",
            confidence=row.confidence if row.confidence is not None else row.detection_confidence,
            start=round(row.start_s, 3),
            end=round(row.end_s, 3),
        )
        for row in await session.execute(occurrences)
    ]
    if wanted(SPEECH_TYPE):
        speech = await session.execute(
            select(SearchSpeech.text, SearchSpeech.start_s, SearchSpeech.end_s).where(
                SearchSpeech.analysis_id == media.analysis_id,
                SearchSpeech.start_s < end,
                SearchSpeech.end_s >= start,
            )
        )
        items += [
            TimelineItem(
                type=SPEECH_TYPE,
                label=row.text,
                confidence=None,
                start=round(row.start_s, 3),
                end=round(row.end_s, 3),
            )
            for row in speech
        ]
    items.sort(key=lambda item: (item.type, -(item.confidence or 0.0), item.label))
    return items
