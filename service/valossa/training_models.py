"""Typed models of the Valossa Training API (face galleries, identities and images)."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Final, Literal

from pydantic import Field

from service.valossa.models import ValossaModel

#: Longest gallery or face name Valossa accepts.
MAX_NAME_LENGTH: Final = 1024
#: Largest image upload_image accepts (8 MB) and its largest width/height in pixels.
MAX_IMAGE_BYTES: Final = 8 * 1024 * 1024
MAX_IMAGE_PIXELS: Final = 4096


class Gender(StrEnum):
    """The documented gender values of a face identity."""

    MALE = "male"
    FEMALE = "female"


class _Keep(Enum):
    KEEP = "keep"


#: Marks an update_face_identity field as omitted, so Valossa keeps its old value
#: (None, by contrast, is sent as JSON null and unsets the field).
KEEP: Final = _Keep.KEEP
Keep = Literal[_Keep.KEEP]


class UploadImageResponse(ValossaModel):
    """Reply to upload_image: the valossaupload:// URL of the stored image."""

    uploaded_file_url: str


class CreateFaceGalleryResponse(ValossaModel):
    """Reply to create_face_gallery."""

    gallery_id: str


class FaceGallery(ValossaModel):
    """One gallery in list_face_galleries; details (name, ...) appear with show_details=true."""

    id: str
    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)


class ListFaceGalleriesResponse(ValossaModel):
    """Reply to list_face_galleries."""

    face_galleries: list[FaceGallery]


class CreateFaceIdentityResponse(ValossaModel):
    """Reply to create_face_identity."""

    face_id: str


class FaceIdentity(ValossaModel):
    """One face in list_face_identities; details (name, gender) appear with show_details=true."""

    id: str
    name: str | None = None
    gender: str | None = None


class ListFaceIdentitiesResponse(ValossaModel):
    """Reply to list_face_identities."""

    face_identities: list[FaceIdentity]


class AddFaceImageResponse(ValossaModel):
    """Reply to add_face_image: the id of the accepted training image."""

    image_id: str


class FaceImage(ValossaModel):
    """One training image of a face identity."""

    id: str


class ListFaceImagesResponse(ValossaModel):
    """Reply to list_face_images."""

    face_images: list[FaceImage]
