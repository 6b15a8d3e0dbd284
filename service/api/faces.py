"""`/v1/face-galleries` and `/v1/faces`: Valossa's face galleries behind our bearer tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Response, UploadFile, status
from pydantic import StringConstraints

from service.api.auth import CmsTokenDep
from service.api.deps import ResourcesDep, SessionDep
from service.errors import Unprocessable
from service.faces.flows import faces as face_flows
from service.faces.flows import galleries as gallery_flows
from service.faces.flows import images as image_flows
from service.faces.images import MAX_IMAGE_BYTES, ImageRefused, check_image
from service.faces.models import ID_LENGTH
from service.faces.schemas import (
    FaceCreate,
    FaceList,
    FaceUpdate,
    FaceView,
    GalleryCreate,
    GalleryList,
    GalleryRename,
    GalleryView,
    ImageList,
    ImageView,
)
from service.text import TEXT_RULE

#: One training image (at most 8 MiB) and the multipart envelope around it.
IMAGE_UPLOAD_MAX_BODY = MAX_IMAGE_BYTES + 64 * 1024

router = APIRouter(tags=["face galleries"])

_Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_LENGTH), TEXT_RULE]
GalleryRef = Annotated[_Id, Path(description="A gallery id, or `default` for the default gallery.")]
FaceId = Annotated[_Id, Path()]
ImageId = Annotated[_Id, Path()]

_PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid bearer token"},
    422: {"description": "Invalid request, or Valossa refused it (`valossa_messages`)"},
    503: {"description": "Valossa could not be reached; nothing was recorded"},
}
_NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "Not in our records"}}


@router.post(
    "/v1/face-galleries",
    status_code=status.HTTP_201_CREATED,
    summary="Create a face gallery",
    responses=_PROBLEMS,
)
async def create_gallery(
    body: GalleryCreate, session: SessionDep, resources: ResourcesDep, caller: CmsTokenDep
) -> GalleryView:
    """Create a named gallery at Valossa. Name people in it (`POST .../faces`) and pass its
    `id` as `face_gallery_id` of an analysis to recognise them in the video."""
    return await gallery_flows.create_gallery(session, resources.valossa, body, created_by=caller)


@router.get("/v1/face-galleries", summary="List face galleries", responses=_PROBLEMS)
async def list_galleries(session: SessionDep) -> GalleryList:
    """Every gallery with its number of faces, the default gallery first (it exists once a
    face was added to `default`). Read from our records; `valossa-ingest faces sync` brings
    in galleries made elsewhere."""
    return await gallery_flows.list_galleries(session)


@router.patch(
    "/v1/face-galleries/{gallery_id}",
    summary="Rename a face gallery",
    responses={**_NOT_FOUND, **_PROBLEMS},
)
async def rename_gallery(
    gallery_id: GalleryRef, body: GalleryRename, session: SessionDep, resources: ResourcesDep
) -> GalleryView:
    """Rename a gallery at Valossa, then here. The default gallery cannot be renamed (`422`)."""
    return await gallery_flows.rename_gallery(session, resources.valossa, gallery_id, body)


@router.post(
    "/v1/face-galleries/{gallery_id}/faces",
    status_code=status.HTTP_201_CREATED,
    summary="Add a face (a person) to a gallery",
    responses={**_NOT_FOUND, **_PROBLEMS},
)
async def create_face(
    gallery_id: GalleryRef,
    body: FaceCreate,
    session: SessionDep,
    resources: ResourcesDep,
    caller: CmsTokenDep,
) -> FaceView:
    """Create a face identity with an optional `name` (recommended) and `gender`
    (`male`/`female`). `default` as the gallery makes Valossa's default gallery if needed.
    Then add at least ten training images with `POST /v1/faces/{id}/images`."""
    return await face_flows.create_face(
        session, resources.valossa, gallery_id, body, created_by=caller
    )


@router.get(
    "/v1/face-galleries/{gallery_id}/faces",
    summary="List the faces of a gallery",
    responses={**_NOT_FOUND, **_PROBLEMS},
)
async def list_faces(gallery_id: GalleryRef, session: SessionDep) -> FaceList:
    """The gallery's faces, oldest first, with the ids of their training images."""
    return await face_flows.list_faces(session, gallery_id)


@router.patch("/v1/faces/{face_id}", summary="Update a face", responses={**_NOT_FOUND, **_PROBLEMS})
async def update_face(
    face_id: FaceId, body: FaceUpdate, session: SessionDep, resources: ResourcesDep
) -> FaceView:
    """Change `name` and/or `gender`; a field left out keeps its value, `null` unsets it."""
    return await face_flows.update_face(session, resources.valossa, face_id, body)


@router.delete(
    "/v1/faces/{face_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a face",
    responses={**_NOT_FOUND, **_PROBLEMS},
)
async def delete_face(face_id: FaceId, session: SessionDep, resources: ResourcesDep) -> Response:
    """Remove the face and its training images at Valossa, then here."""
    await face_flows.delete_face(session, resources.valossa, face_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/faces/{face_id}/images",
    status_code=status.HTTP_201_CREATED,
    summary="Add a training image to a face",
    responses={**_NOT_FOUND, 413: {"description": "Body over 8 MiB"}, **_PROBLEMS},
)
async def add_image(
    face_id: FaceId,
    image: Annotated[UploadFile, File(description="One JPG or PNG, <= 8 MiB, <= 4096x4096.")],
    session: SessionDep,
    resources: ResourcesDep,
    caller: CmsTokenDep,
) -> ImageView:
    """Upload one image (multipart field `image`) showing exactly this person's face, alone,
    frontal or nearly so. Its format and size are checked from its bytes before Valossa sees
    it (`422` says what is wrong); Valossa then refuses images without exactly one clear face
    (`422` with its message)."""
    if image.size is not None and image.size > MAX_IMAGE_BYTES:
        raise Unprocessable(f"the image is {image.size} bytes; Valossa accepts at most 8 MiB")
    data = await image.read(MAX_IMAGE_BYTES + 1)
    try:
        checked = check_image(
            data, filename=image.filename or "image", declared_type=image.content_type
        )
    except ImageRefused as exc:
        raise Unprocessable(str(exc)) from None
    return await image_flows.add_image(
        session, resources.valossa, face_id, checked, created_by=caller
    )


@router.get(
    "/v1/faces/{face_id}/images",
    summary="List the training images of a face",
    responses={**_NOT_FOUND, **_PROBLEMS},
)
async def list_images(face_id: FaceId, session: SessionDep) -> ImageList:
    """The face's training images, oldest first (Valossa keeps the bytes; we keep the file
    name, type, size and pixel size of images added through this API)."""
    return await image_flows.list_images(session, face_id)


@router.delete(
    "/v1/faces/{face_id}/images/{image_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a training image",
    responses={**_NOT_FOUND, **_PROBLEMS},
)
async def delete_image(
    face_id: FaceId, image_id: ImageId, session: SessionDep, resources: ResourcesDep
) -> Response:
    """Remove one training image of the face at Valossa, then here."""
    await image_flows.remove_image(session, resources.valossa, face_id, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
