"""The CMS-facing shapes of face galleries, faces and training images."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from service.faces.models import NAME_LENGTH, Face, FaceGallery, FaceImage
from service.text import TEXT_RULE
from service.valossa import Gender

Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_LENGTH), TEXT_RULE]


class GalleryCreate(BaseModel):
    """Body of POST /v1/face-galleries."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="1-1024 characters.")


class GalleryRename(BaseModel):
    """Body of PATCH /v1/face-galleries/{id}: the name is the only field Valossa lets change."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="1-1024 characters.")


class GalleryView(BaseModel):
    """A face gallery as mirrored from Valossa."""

    id: str = Field(description="Valossa's gallery id (use it as face_gallery_id of analyses).")
    name: str | None
    is_default: bool = Field(description="The default gallery, also addressable as `default`.")
    face_count: int
    created_by: str | None = Field(
        description="Fingerprint of the CMS token that created it; null if found by faces sync."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, gallery: FaceGallery, *, face_count: int) -> GalleryView:
        """The view of a mirror row."""
        return cls(
            id=gallery.id,
            name=gallery.name,
            is_default=gallery.is_default,
            face_count=face_count,
            created_by=gallery.created_by,
            created_at=gallery.created_at,
            updated_at=gallery.updated_at,
        )


class GalleryList(BaseModel):
    """Every gallery, the default one first, then by creation."""

    items: list[GalleryView]


class FaceCreate(BaseModel):
    """Body of POST /v1/face-galleries/{id}/faces; both fields are optional at Valossa."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, description="1-1024 characters (recommended).")
    gender: Gender | None = None


class FaceUpdate(BaseModel):
    """Body of PATCH /v1/faces/{id}: a field left out keeps its value, `null` unsets it."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    gender: Gender | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> FaceUpdate:
        if not self.model_fields_set:
            raise ValueError("give name and/or gender (null unsets a field)")
        return self


class FaceView(BaseModel):
    """A face identity and the ids of its training images."""

    id: str
    gallery_id: str
    name: str | None
    gender: Gender | None
    image_ids: list[str]
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, face: Face, image_ids: list[str]) -> FaceView:
        """The view of a mirror row."""
        return cls(
            id=face.id,
            gallery_id=face.gallery_id,
            name=face.name,
            gender=Gender(face.gender) if face.gender in set(Gender) else None,
            image_ids=image_ids,
            created_by=face.created_by,
            created_at=face.created_at,
            updated_at=face.updated_at,
        )


class FaceList(BaseModel):
    """The faces of one gallery, oldest first."""

    gallery_id: str | None = Field(description="null for a default gallery not made yet.")
    items: list[FaceView]


class ImageView(BaseModel):
    """A training image Valossa accepted; file details are known for images added through us."""

    id: str
    face_id: str
    filename: str | None
    content_type: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    created_by: str | None
    created_at: datetime

    @classmethod
    def build(cls, image: FaceImage) -> ImageView:
        """The view of a mirror row."""
        return cls(
            id=image.id,
            face_id=image.face_id,
            filename=image.filename,
            content_type=image.content_type,
            size_bytes=image.size_bytes,
            width=image.width,
            height=image.height,
            created_by=image.created_by,
            created_at=image.created_at,
        )


class ImageList(BaseModel):
    """The training images of one face, oldest first."""

    face_id: str
    items: list[ImageView]
