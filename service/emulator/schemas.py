"""Request bodies of the JSON functions, validated into typed models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Gender = Literal["male", "female"]
MAX_NAME = 1024


class _Body(BaseModel):
    # Unknown keys are ignored like a lenient server would; api_key is checked before validation.
    model_config = ConfigDict(extra="ignore", strict=True)


class UrlRef(_Body):
    url: str = Field(min_length=1)


class OptionalUrlRef(_Body):
    url: str | None = None


class IdRef(_Body):
    id: str = Field(min_length=1)


class CustomerMediaInfo(_Body):
    id: str = Field(min_length=1)


class Media(_Body):
    video: UrlRef
    transcript: OptionalUrlRef | None = None
    customer_media_info: CustomerMediaInfo | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None  #: checked against the accepted languages when the job is made


class FaceGalleries(_Body):
    custom_gallery: IdRef | None = None


class AnalysisParameters(_Body):
    face_min_relative_height: float | None = Field(default=None, ge=0, le=1)
    face_galleries: FaceGalleries | None = None


class EmailNotification(_Body):
    to_group: Literal["users_with_access_to_api_key_results"]


class NewJobRequest(_Body):
    """The new_job body (api_key aside)."""

    media: Media
    analysis_parameters: AnalysisParameters | None = None
    email_notification: EmailNotification | None = None
    callback: UrlRef | None = None


class JobRef(_Body):
    """cancel_job and delete_job: a job by id or by customer media id."""

    job_id: str | None = None
    customer_media_id: str | None = None


class NewGallery(_Body):
    name: str = Field(min_length=1, max_length=MAX_NAME)


class CreateGalleryRequest(_Body):
    gallery: NewGallery


class GalleryUpdates(_Body):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=MAX_NAME)


class GalleryUpdate(_Body):
    id: str
    updates: GalleryUpdates


class UpdateGalleryRequest(_Body):
    gallery: GalleryUpdate


class NewFace(_Body):
    name: str | None = Field(default=None, max_length=MAX_NAME)
    gender: Gender | None = None


class CreateFaceRequest(_Body):
    gallery: IdRef | None = None
    face: NewFace | None = None


class FaceUpdates(_Body):
    """Fields present are set (None unsets); absent fields keep their value."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str | None = Field(default=None, max_length=MAX_NAME)
    gender: Gender | None = None


class FaceUpdate(_Body):
    id: str
    updates: FaceUpdates


class UpdateFaceRequest(_Body):
    face: FaceUpdate


class AddFaceImageRequest(_Body):
    face: IdRef
    image: UrlRef


class FaceRefRequest(_Body):
    face: IdRef


class ImageRefRequest(_Body):
    image: IdRef
