"""What the search API returns: search pages, a media's summary, its timeline."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class SearchMatch(BaseModel):
    """One place the query matched: a label, a face identity or a spoken segment."""

    type: str = Field(description="Valossa detection type, e.g. `visual.context`, `human.face`.")
    label: str = Field(description="The label, the identity's name, or the spoken text.")
    start: float | None = Field(description="Start second; null for video-level detections.")
    end: float | None = Field(description="End second; null for video-level detections.")
    confidence: float | None = Field(description="Valossa's confidence, when it gives one.")


class SearchItem(BaseModel):
    """A media whose newest finished analysis matched, with where it matched."""

    customer_media_id: str
    analysis_id: uuid.UUID
    title: str | None
    score: float = Field(description="Relevance: higher is better; comparable within a search.")
    matches: list[SearchMatch] = Field(
        description="Up to 50 matches in time order (video-level ones first); "
        "the media's timeline has all of them."
    )


class SearchPage(BaseModel):
    """Media that match, best first."""

    items: list[SearchItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class SummaryLabel(BaseModel):
    type: str
    label: str
    screen_time_s: float | None
    occurrences: int
    confidence: float | None


class SummaryFace(BaseModel):
    name: str | None = Field(description="The gallery identity's name, when the face matched one.")
    face_id: str | None = Field(description="The gallery face id (`similar_to.gallery_face.id`).")
    gallery_id: str | None
    similarity: float | None = Field(description="Confidence of the gallery match.")
    gender: str | None
    screen_time_s: float | None
    occurrences: int


class SummaryTopic(BaseModel):
    type: str = Field(description="`topic.iab.visual`, `topic.iab.transcript`, ...")
    label: str
    iab_id: str | None
    hierarchy: list[str]


class MediaSummary(BaseModel):
    """What is in a media, from its newest finished analysis."""

    customer_media_id: str
    analysis_id: uuid.UUID
    title: str | None
    description: str | None
    duration_s: float | None
    metadata_format: str | None
    detections_count: int
    occurrences_count: int
    top_labels: list[SummaryLabel] = Field(description="Seen and heard concepts, by screen time.")
    faces: list[SummaryFace] = Field(description="Named faces first, then by screen time.")
    iab_topics: list[SummaryTopic]
    speech_source: str | None = Field(
        description="`core` (Valossa's speech analysis), `speech_to_text_srt`, or null."
    )
    speech_excerpt: str | None = Field(description="The first words spoken, up to ~500 chars.")


class TimelineItem(BaseModel):
    type: str
    label: str
    confidence: float | None
    start: float
    end: float


class TimelineSecond(BaseModel):
    second: int = Field(description="The second [second, second + 1) of the video.")
    items: list[TimelineItem]


class Timeline(BaseModel):
    """What is seen and heard in a time range, second by second."""

    customer_media_id: str
    analysis_id: uuid.UUID
    start: int
    end: int
    duration_s: float | None
    seconds: list[TimelineSecond]
