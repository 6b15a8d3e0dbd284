"""Face galleries, identities and training images of each API key (the Training API's data)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from service.emulator.errors import BadRequest, NotFound
from service.emulator.metadata import GalleryFace

UPLOAD_SCHEME = "valossaupload://"


@dataclass(eq=False)
class Gallery:
    """A face gallery; each key has at most one default gallery, made on first use."""

    id: str
    owner: str
    name: str | None
    is_default: bool


@dataclass(eq=False)
class FaceIdentity:
    """A person to recognise, with the training images added for it."""

    id: str
    owner: str
    gallery_id: str
    name: str | None
    gender: str | None
    image_ids: list[str] = field(default_factory=list)


@dataclass(eq=False)
class ImageUpload:
    """An image received by upload_image, kept on disk."""

    id: str
    owner: str
    path: Path
    width: int
    height: int


@dataclass(eq=False)
class FaceImage:
    """A training image added to a face identity."""

    id: str
    face_id: str
    upload_id: str


TrainingItem: TypeAlias = Gallery | FaceIdentity | FaceImage | ImageUpload
Persist = Callable[[Any], None]


class TrainingStore:
    """Galleries, identities and images, each visible only to the key that made it.

    Every change is passed to `save` (or `forget`) before the method returns.
    """

    def __init__(self, new_id: Callable[[], str], save: Persist, forget: Persist) -> None:
        self._new_id = new_id
        self._save = save
        self._forget = forget
        self.galleries: dict[str, Gallery] = {}
        self.faces: dict[str, FaceIdentity] = {}
        self.images: dict[str, FaceImage] = {}
        self.image_uploads: dict[str, ImageUpload] = {}

    def restore(self, item: TrainingItem) -> None:
        """Put back an item read from the stored state."""
        if isinstance(item, Gallery):
            self.galleries[item.id] = item
        elif isinstance(item, FaceIdentity):
            self.faces[item.id] = item
        elif isinstance(item, FaceImage):
            self.images[item.id] = item
        else:
            self.image_uploads[item.id] = item

    def has(self, item_id: str) -> bool:
        """True if any gallery, identity, image or uploaded image has this id."""
        return any(
            item_id in table
            for table in (self.galleries, self.faces, self.images, self.image_uploads)
        )

    def default_gallery(self, owner: str, *, create: bool) -> Gallery | None:
        """The key's default gallery; made when `create` and it does not exist yet."""
        for gallery in self.galleries.values():
            if gallery.owner == owner and gallery.is_default:
                return gallery
        if not create:
            return None
        gallery = Gallery(self._new_id(), owner, None, is_default=True)
        self.galleries[gallery.id] = gallery
        self._save(gallery)
        return gallery

    def gallery(self, owner: str, gallery_id: str) -> Gallery:
        """One gallery of the key, or 404."""
        gallery = self.galleries.get(gallery_id)
        if gallery is None or gallery.owner != owner:
            raise NotFound("Face gallery not found")
        return gallery

    def create_gallery(self, owner: str, name: str) -> Gallery:
        """Create a named, non-default gallery."""
        gallery = Gallery(self._new_id(), owner, name, is_default=False)
        self.galleries[gallery.id] = gallery
        self._save(gallery)
        return gallery

    def rename_gallery(self, owner: str, gallery_id: str, name: str) -> None:
        """Rename a custom gallery; the default gallery cannot be modified."""
        gallery = self.gallery(owner, gallery_id)
        if gallery.is_default:
            raise BadRequest("The default face gallery cannot be modified")
        gallery.name = name
        self._save(gallery)

    def list_galleries(self, owner: str) -> list[Gallery]:
        """The key's galleries in creation order."""
        return [g for g in self.galleries.values() if g.owner == owner]

    def create_face(
        self, owner: str, gallery_id: str | None, name: str | None, gender: str | None
    ) -> FaceIdentity:
        """Create an identity in the given gallery, or in the default one."""
        if gallery_id is None:
            gallery = self.default_gallery(owner, create=True)
            assert gallery is not None
        else:
            gallery = self.gallery(owner, gallery_id)
        face = FaceIdentity(self._new_id(), owner, gallery.id, name, gender)
        self.faces[face.id] = face
        self._save(face)
        return face

    def face(self, owner: str, face_id: str) -> FaceIdentity:
        """One identity of the key, or 404."""
        face = self.faces.get(face_id)
        if face is None or face.owner != owner:
            raise NotFound("Face identity not found")
        return face

    def list_faces(self, owner: str, gallery_id: str | None) -> list[FaceIdentity]:
        """Identities of one gallery (the default one when `gallery_id` is None)."""
        if gallery_id is None:
            gallery = self.default_gallery(owner, create=False)
            if gallery is None:
                return []
        else:
            gallery = self.gallery(owner, gallery_id)
        return [f for f in self.faces.values() if f.gallery_id == gallery.id]

    def update_face(self, owner: str, face_id: str, updates: Mapping[str, Any]) -> None:
        """Apply the given fields; a None value unsets, an absent field keeps its value."""
        face = self.face(owner, face_id)
        if "name" in updates:
            face.name = updates["name"]
        if "gender" in updates:
            face.gender = updates["gender"]
        self._save(face)

    def remove_face(self, owner: str, face_id: str) -> None:
        """Remove an identity and its training images."""
        face = self.face(owner, face_id)
        for image_id in face.image_ids:
            image = self.images.pop(image_id, None)
            if image is not None:
                self._forget(image)
        del self.faces[face.id]
        self._forget(face)

    def add_upload(self, upload: ImageUpload) -> None:
        """Keep an image received by upload_image."""
        self.image_uploads[upload.id] = upload
        self._save(upload)

    def uploaded_image(self, owner: str, face_id: str, url: str) -> ImageUpload:
        """The uploaded image an add_face_image request names (404/400 when it cannot be used)."""
        self.face(owner, face_id)
        if not url.startswith(UPLOAD_SCHEME):
            raise BadRequest(
                "Invalid value for field: image.url (only valossaupload:// URLs from "
                "upload_image are supported)"
            )
        upload = self.image_uploads.get(url.removeprefix(UPLOAD_SCHEME))
        if upload is None or upload.owner != owner:
            raise BadRequest("Invalid value for field: image.url (no such uploaded image)")
        return upload

    def add_image(self, owner: str, face_id: str, upload: ImageUpload) -> FaceImage:
        """Add an uploaded image, checked to show a face, to an identity."""
        face = self.face(owner, face_id)
        image = FaceImage(self._new_id(), face.id, upload.id)
        self.images[image.id] = image
        face.image_ids.append(image.id)
        self._save(image)
        self._save(face)
        return image

    def list_images(self, owner: str, face_id: str) -> list[FaceImage]:
        """The training images of one identity."""
        return [self.images[i] for i in self.face(owner, face_id).image_ids]

    def remove_image(self, owner: str, image_id: str) -> None:
        """Remove a training image from its identity."""
        image = self.images.get(image_id)
        if image is None or self.faces[image.face_id].owner != owner:
            raise NotFound("Face image not found")
        face = self.faces[image.face_id]
        face.image_ids.remove(image.id)
        del self.images[image.id]
        self._forget(image)
        self._save(face)

    def trained_faces(self, owner: str, gallery_id: str | None) -> list[GalleryFace]:
        """Identities with at least one training image in the gallery a job uses."""
        if gallery_id is None:
            gallery = self.default_gallery(owner, create=False)
            if gallery is None:
                return []
            gallery_id = gallery.id
        return [
            GalleryFace(gallery_id=gallery_id, face_id=f.id, name=f.name, gender=f.gender)
            for f in self.faces.values()
            if f.gallery_id == gallery_id and f.image_ids
        ]
