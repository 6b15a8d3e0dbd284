"""The Training API functions (face galleries, identities, images) of ValossaClient."""

from __future__ import annotations

from service.valossa.caller import Call, Caller, JsonValue
from service.valossa.images import image_content_type
from service.valossa.models import EmptyResponse
from service.valossa.training_models import (
    KEEP,
    MAX_NAME_LENGTH,
    AddFaceImageResponse,
    CreateFaceGalleryResponse,
    CreateFaceIdentityResponse,
    Gender,
    Keep,
    ListFaceGalleriesResponse,
    ListFaceIdentitiesResponse,
    ListFaceImagesResponse,
    UploadImageResponse,
)


class TrainingFunctions:
    """Mixed into ValossaClient. create_* and add_face_image are never retried (duplicates)."""

    _caller: Caller

    async def upload_image(self, *, image: bytes, filename: str = "image") -> UploadImageResponse:
        """Upload one JPG/PNG face image (<= 8 MB, <= 4096x4096); retried: a repeat only orphans."""
        content_type = image_content_type(image)
        files = {"image_data": (filename, image, content_type)}
        call = Call("training", "upload_image", "form", True, files=files)
        return await self._caller.model(call, UploadImageResponse)

    async def create_face_gallery(self, *, name: str) -> CreateFaceGalleryResponse:
        """Create a named, non-default face gallery."""
        call = Call(
            "training", "create_face_gallery", "json", False, {"gallery": {"name": _name(name)}}
        )
        return await self._caller.model(call, CreateFaceGalleryResponse)

    async def update_face_gallery(self, *, gallery_id: str, name: str) -> None:
        """Rename a non-default gallery (the only updatable field)."""
        gallery: dict[str, JsonValue] = {"id": gallery_id, "updates": {"name": _name(name)}}
        call = Call("training", "update_face_gallery", "json", True, {"gallery": gallery})
        await self._caller.model(call, EmptyResponse)

    async def list_face_galleries(self, *, show_details: bool = False) -> ListFaceGalleriesResponse:
        """List this key's face galleries."""
        fields = _details(show_details)
        call = Call("training", "list_face_galleries", "query", True, fields)
        return await self._caller.model(call, ListFaceGalleriesResponse)

    async def create_face_identity(
        self,
        *,
        gallery_id: str | None = None,
        name: str | None = None,
        gender: Gender | None = None,
    ) -> CreateFaceIdentityResponse:
        """Create a face identity in a gallery (the default one when gallery_id is None)."""
        face: dict[str, JsonValue] = {}
        if name is not None:
            face["name"] = _name(name)
        if gender is not None:
            face["gender"] = Gender(gender).value
        fields: dict[str, JsonValue] = {"face": face}
        if gallery_id is not None:
            fields["gallery"] = {"id": gallery_id}
        call = Call("training", "create_face_identity", "json", False, fields)
        return await self._caller.model(call, CreateFaceIdentityResponse)

    async def add_face_image(self, *, face_id: str, image_url: str) -> AddFaceImageResponse:
        """Attach an uploaded image (valossaupload:// URL) to a face; may take seconds."""
        fields: dict[str, JsonValue] = {"face": {"id": face_id}, "image": {"url": image_url}}
        call = Call("training", "add_face_image", "json", False, fields)
        return await self._caller.model(call, AddFaceImageResponse)

    async def list_face_identities(
        self, *, gallery_id: str | None = None, show_details: bool = False
    ) -> ListFaceIdentitiesResponse:
        """List the faces of a gallery (the default one when gallery_id is None)."""
        fields = _details(show_details)
        if gallery_id is not None:
            fields["gallery_id"] = gallery_id
        call = Call("training", "list_face_identities", "query", True, fields)
        return await self._caller.model(call, ListFaceIdentitiesResponse)

    async def list_face_images(self, *, face_id: str) -> ListFaceImagesResponse:
        """List the training images of one face."""
        call = Call("training", "list_face_images", "query", True, {"face_id": face_id})
        return await self._caller.model(call, ListFaceImagesResponse)

    async def update_face_identity(
        self,
        *,
        face_id: str,
        name: str | Keep | None = KEEP,
        gender: Gender | Keep | None = KEEP,
    ) -> None:
        """Update a face: KEEP (the default) leaves a field as it is, None unsets it."""
        updates: dict[str, JsonValue] = {}
        if name is not KEEP:
            updates["name"] = None if name is None else _name(name)
        if gender is not KEEP:
            updates["gender"] = None if gender is None else Gender(gender).value
        if not updates:
            raise ValueError("update_face_identity needs at least one of name and gender")
        face: dict[str, JsonValue] = {"id": face_id, "updates": updates}
        call = Call("training", "update_face_identity", "json", True, {"face": face})
        await self._caller.model(call, EmptyResponse)

    async def remove_face_image(self, *, image_id: str) -> None:
        """Remove one training image from its face."""
        call = Call("training", "remove_face_image", "json", True, {"image": {"id": image_id}})
        await self._caller.model(call, EmptyResponse)

    async def remove_face_identity(self, *, face_id: str) -> None:
        """Remove a face identity and its images."""
        call = Call("training", "remove_face_identity", "json", True, {"face": {"id": face_id}})
        await self._caller.model(call, EmptyResponse)


def _name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"name is {len(name)} characters; the maximum is {MAX_NAME_LENGTH}")
    return name


def _details(show_details: bool) -> dict[str, JsonValue]:
    return {"show_details": True} if show_details else {}
