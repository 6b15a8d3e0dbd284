"""Typed request and response models of the Valossa Core API (pydantic v2).

Every model keeps unknown fields (`extra="allow"`): Valossa may add fields and status values at
any time, and our code must pass them through rather than crash.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Schemes Valossa accepts in `media.video.url`.
VIDEO_URL_PATTERN = r"^(https?|s3|valossaupload)://\S+$"
#: Schemes Valossa accepts in `media.transcript.url`: the transcript is downloaded, never uploaded.
TRANSCRIPT_URL_PATTERN = r"^(https?|s3)://\S+$"


class ValossaModel(BaseModel):
    """Base of every Valossa model: unknown fields are kept, values are not coerced to enums."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class KnownJobStatus(StrEnum):
    """Job status values documented today; more may come, so `JobStatus.status` stays a str."""

    QUEUED = "queued"
    ON_HOLD = "on_hold"
    PREPARING_ANALYSIS = "preparing_analysis"
    PROCESSING = "processing"
    FINISHED = "finished"
    ERROR = "error"


#: Statuses after which a job never changes again.
TERMINAL_JOB_STATUSES = frozenset({KnownJobStatus.FINISHED, KnownJobStatus.ERROR})


class MediaTransferStatus(StrEnum):
    """Documented `media_transfer_status` values."""

    QUEUED = "queued"
    DOWNLOADING = "downloading"
    FINISHED = "finished"
    ERROR = "error"


# --- new_job ---------------------------------------------------------------------------------


class MediaUrl(ValossaModel):
    """A direct link to a file: http(s)://, s3:// or valossaupload://."""

    url: str = Field(pattern=VIDEO_URL_PATTERN)


class CustomerMediaInfo(ValossaModel):
    """Our own identifier for the media, usable as `customer_media_id` later."""

    id: str


class NewJobMedia(ValossaModel):
    """The `media` object of a new_job request; only `video` is required."""

    video: MediaUrl
    transcript: MediaUrl | None = None
    title: str | None = None
    description: str | None = None
    customer_media_info: CustomerMediaInfo | None = None
    language: str | None = None

    @field_validator("transcript")
    @classmethod
    def _downloadable_transcript(cls, value: MediaUrl | None) -> MediaUrl | None:
        # Valossa downloads a transcript from http(s):// or s3://; uploads are for videos only.
        if value is not None and not re.match(TRANSCRIPT_URL_PATTERN, value.url):
            raise ValueError("a transcript URL must be http://, https:// or s3:// (not uploaded)")
        return value


class GalleryRef(ValossaModel):
    """A reference to a face gallery by its id."""

    id: str


class FaceGalleries(ValossaModel):
    """Which face gallery to use; omitted means the default gallery."""

    custom_gallery: GalleryRef | None = None


class AnalysisParameters(ValossaModel):
    """The optional `analysis_parameters` object of new_job."""

    face_galleries: FaceGalleries | None = None


class NewJobResponse(ValossaModel):
    """Reply to new_job: the id of the accepted job."""

    job_id: str


# --- job_status / list_jobs ------------------------------------------------------------------


class JobStatus(ValossaModel):
    """Reply to job_status (also nested in list_jobs with show_status=true)."""

    status: str
    media_transfer_status: str | None = None
    details: str | None = None
    poll_again_after_seconds: int | None = None

    @property
    def known_status(self) -> KnownJobStatus | None:
        """The status as a documented value, or None for a value Valossa added later."""
        try:
            return KnownJobStatus(self.status)
        except ValueError:
            return None

    @property
    def is_terminal(self) -> bool:
        """True when the job is finished or failed (unknown statuses are not terminal)."""
        return self.known_status in TERMINAL_JOB_STATUSES


class ListedMediaInfo(ValossaModel):
    """Media information shown by list_jobs with show_media_info=true (shape loosely documented)."""

    title: str | None = None
    description: str | None = None


class ListedJob(ValossaModel):
    """One job in a list_jobs reply."""

    job_id: str
    customer_media_id: str | None = None
    job_status: JobStatus | None = None
    media_info: ListedMediaInfo | None = None


class ListJobsResponse(ValossaModel):
    """Reply to list_jobs."""

    jobs: list[ListedJob]


class CancelJobResponse(ValossaModel):
    """Reply to cancel_job, e.g. `{"job_status": "canceled"}`."""

    job_status: str


# --- uploads ---------------------------------------------------------------------------------


class InitializeUploadResponse(ValossaModel):
    """Reply to initialize_file_upload: the upload id and the exact chunk size to use."""

    upload_id: str
    file_chunk_size_bytes: int = Field(gt=0)


class FinalizeUploadResponse(ValossaModel):
    """Reply to finalize_file_upload: the valossaupload:// URL for new_job."""

    uploaded_file_url: str


class EmptyResponse(ValossaModel):
    """The `{ }` reply of functions that return nothing."""
