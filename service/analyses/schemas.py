"""The CMS-facing API's request and response shapes (separate from the ORM tables)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from service.analyses.inputs import MediaId, SourceUrl, TranscriptUrl, VideoUrl
from service.analyses.models import Analysis, AnalysisEvent, StoredResult
from service.analyses.queries import AnalysisRecord, ResultRecord
from service.analyses.states import TERMINAL, TRANSFERRING, AnalysisStatus
from service.text import TEXT_RULE
from service.valossa import ResultType

#: What a new analysis stores when the CMS does not say: core metadata and the transcripts.
DEFAULT_RESULT_TYPES: tuple[ResultType, ...] = (
    ResultType.CORE,
    ResultType.SPEECH_TO_TEXT_SRT,
    ResultType.SPEECH_TO_TEXT_VTT,
    ResultType.SPEECH_TO_TEXT_TTML,
    ResultType.SPEECH_TO_TEXT_AVID_TXT,
)


class AnalysisCreate(BaseModel):
    """Body of POST /v1/analyses: what to analyse and which results to keep."""

    model_config = ConfigDict(
        extra="forbid",
        # What _one_source_and_unique_types checks, said in the schema too.
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["video_url"],
                    "properties": {"video_url": {"type": "string"}, "source_url": {"type": "null"}},
                },
                {
                    "required": ["source_url"],
                    "properties": {"source_url": {"type": "string"}, "video_url": {"type": "null"}},
                },
            ]
        },
    )

    customer_media_id: MediaId = Field(description="Your CMS's id of the media (1-1024 chars).")
    video_url: VideoUrl | None = Field(
        default=None,
        description="A direct link Valossa downloads itself: http(s)://, s3:// or "
        "valossaupload://. Give exactly one of video_url and source_url.",
    )
    source_url: SourceUrl | None = Field(
        default=None,
        description="An http(s) link that this service downloads and uploads to Valossa in "
        "chunks (for files Valossa cannot reach). Must resolve to a public address.",
    )
    title: Annotated[str, StringConstraints(max_length=1024), TEXT_RULE] | None = None
    description: Annotated[str, StringConstraints(max_length=10_000), TEXT_RULE] | None = None
    transcript_url: TranscriptUrl | None = Field(
        default=None, description="An SRT transcript (http(s):// or s3://); disables speech."
    )
    language: Annotated[str, StringConstraints(min_length=2, max_length=32), TEXT_RULE] = "en-US"
    face_gallery_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=64), TEXT_RULE] | None
    ) = None
    result_types: list[ResultType] = Field(
        default_factory=lambda: list(DEFAULT_RESULT_TYPES),
        min_length=1,
        description="Which Valossa result types to fetch and store; types Valossa does not "
        "produce for the media are recorded as absent.",
        json_schema_extra={"uniqueItems": True},
    )

    @model_validator(mode="after")
    def _one_source_and_unique_types(self) -> AnalysisCreate:
        if (self.video_url is None) == (self.source_url is None):
            raise ValueError("give exactly one of video_url and source_url")
        if len(set(self.result_types)) != len(self.result_types):
            raise ValueError("result_types must not contain duplicates")
        return self


class ValossaView(BaseModel):
    """What Valossa last said about the job, verbatim."""

    job_id: str | None
    status: str | None
    media_transfer_status: str | None
    details: str | None


class InputsView(BaseModel):
    """What the CMS asked for."""

    video_url: str | None
    source_url: str | None
    title: str | None
    description: str | None
    transcript_url: str | None
    language: str
    face_gallery_id: str | None
    result_types: list[str]


class ResultView(BaseModel):
    """One result type of an analysis: stored (with its size and digest) or absent."""

    state: Literal["stored", "absent"]
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    metadata_format: str | None
    absent_reason: str | None


class TransferView(BaseModel):
    """How far the source has got while it is downloaded (`downloading`) or sent to Valossa
    (`uploading`); updated about every second."""

    done_bytes: int
    total_bytes: int | None = Field(
        description="Null while the size is unknown (a source sent without Content-Length)."
    )
    percent: float | None = Field(description="done_bytes of total_bytes, when known.")

    @classmethod
    def of(cls, analysis: Analysis | AnalysisRecord) -> TransferView | None:
        """The progress of an analysis moving its source, else None."""
        if analysis.status not in TRANSFERRING or analysis.transfer_done_bytes is None:
            return None
        done, total = analysis.transfer_done_bytes, analysis.transfer_total_bytes
        percent = round(100.0 * done / total, 1) if total else None
        return cls(done_bytes=done, total_bytes=total, percent=percent)


class AnalysisView(BaseModel):
    """An analysis: its status, Valossa's view, its inputs and its stored results."""

    id: uuid.UUID
    customer_media_id: str
    status: AnalysisStatus
    valossa: ValossaView
    inputs: InputsView
    results: dict[str, ResultView] = Field(description="Per result type, once fetched.")
    progress: TransferView | None = Field(
        description="While `downloading` or `uploading`: the bytes moved so far."
    )
    error: str | None
    overdue: bool = Field(description="True when the analysis is past its state's deadline.")
    overdue_since: datetime | None
    cancel_requested_at: datetime | None = Field(
        description="When the CMS asked to cancel and Valossa has not confirmed it yet."
    )
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def build(
        cls,
        analysis: Analysis | AnalysisRecord,
        results: Sequence[StoredResult | ResultRecord],
        *,
        now: datetime,
    ) -> AnalysisView:
        """The resource of one analysis and its stored-result records."""
        overdue_since = analysis.overdue_since
        if (
            overdue_since is None
            and analysis.status not in TERMINAL
            and analysis.deadline_at is not None
            and analysis.deadline_at < now
        ):
            overdue_since = analysis.deadline_at
        return cls(
            id=analysis.id,
            customer_media_id=analysis.customer_media_id,
            status=analysis.status,
            valossa=ValossaView(
                job_id=analysis.job_id,
                status=analysis.valossa_status,
                media_transfer_status=analysis.media_transfer_status,
                details=analysis.valossa_details,
            ),
            inputs=InputsView(
                video_url=analysis.video_url,
                source_url=analysis.source_url,
                title=analysis.title,
                description=analysis.description,
                transcript_url=analysis.transcript_url,
                language=analysis.language,
                face_gallery_id=analysis.face_gallery_id,
                result_types=list(analysis.result_types),
            ),
            results={
                r.result_type: ResultView(
                    state="stored" if r.state == "stored" else "absent",
                    content_type=r.content_type,
                    size_bytes=r.size_bytes,
                    sha256=r.sha256,
                    metadata_format=r.metadata_format,
                    absent_reason=r.absent_reason,
                )
                for r in results
            },
            progress=TransferView.of(analysis),
            error=analysis.error,
            overdue=overdue_since is not None,
            overdue_since=overdue_since,
            cancel_requested_at=analysis.cancel_requested_at,
            created_at=analysis.created_at,
            updated_at=analysis.updated_at,
            finished_at=analysis.finished_at,
        )


class AnalysisPage(BaseModel):
    """One page of analyses, newest first."""

    items: list[AnalysisView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class EventView(BaseModel):
    """One step in the history of an analysis."""

    at: datetime
    from_status: str | None
    to_status: str
    valossa_status: str | None
    reason: str | None
    actor: str

    @classmethod
    def build(cls, event: AnalysisEvent) -> EventView:
        """The view of one event row."""
        return cls(
            at=event.at,
            from_status=event.from_status,
            to_status=event.to_status,
            valossa_status=event.valossa_status,
            reason=event.reason,
            actor=event.actor,
        )


class EventList(BaseModel):
    """The history of an analysis, oldest first."""

    analysis_id: uuid.UUID
    items: list[EventView]


class MediaView(BaseModel):
    """A media as the CMS knows it: its latest analysis and its current metadata."""

    customer_media_id: str
    status: AnalysisStatus = Field(description="Status of the latest analysis (`finished` = done).")
    latest_analysis: AnalysisView
    current_analysis_id: uuid.UUID | None = Field(
        description="The latest finished analysis, whose results are the media's metadata."
    )
    result_types: list[str] = Field(description="Result types stored for the current analysis.")
    analyses_count: int


class CallbackAck(BaseModel):
    """Answer to Valossa's callback."""

    status: Literal["ok"] = "ok"
