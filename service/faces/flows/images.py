"""Training images of a face: upload and add (one request), list, remove."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound
from service.faces import queries
from service.faces.flows.faces import find_face
from service.faces.images import CheckedImage
from service.faces.models import FaceImage
from service.faces.refusals import valossa_answers
from service.faces.schemas import ImageList, ImageView
from service.valossa import ValossaClient, ValossaNotFound

log = logging.getLogger(__name__)


async def add_image(
    session: AsyncSession,
    valossa: ValossaClient,
    face_id: str,
    image: CheckedImage,
    *,
    created_by: str,
) -> ImageView:
    """Upload the checked image to Valossa, add it to the face (Valossa checks that it shows
    exactly one face), then record it."""
    face = await find_face(session, face_id)
    with valossa_answers("upload the image"):
        uploaded = await valossa.upload_image(image=image.data, filename=image.filename)
    with valossa_answers("add the image to the face", may_take_effect=True):
        added = await valossa.add_face_image(face_id=face.id, image_url=uploaded.uploaded_file_url)
    row = FaceImage(
        id=added.image_id,
        face_id=face.id,
        filename=image.filename[:255],
        content_type=image.content_type,
        size_bytes=len(image.data),
        width=image.width,
        height=image.height,
        created_by=created_by,
    )
    await queries.add_row(
        session, row, conflict="the face was removed while its image was being added"
    )
    return ImageView.build(row)


async def list_images(session: AsyncSession, face_id: str) -> ImageList:
    """The training images of a face, oldest first."""
    face = await find_face(session, face_id)
    images = await queries.images_of(session, [face.id])
    return ImageList(face_id=face.id, items=[ImageView.build(i) for i in images])


async def remove_image(
    session: AsyncSession, valossa: ValossaClient, face_id: str, image_id: str
) -> None:
    """Remove a training image of the face at Valossa, then here."""
    face = await find_face(session, face_id)
    image = await queries.image(session, image_id)
    if image is None or image.face_id != face.id:
        raise NotFound(f"face {face_id!r} has no image with id {image_id!r}")
    with valossa_answers("remove the image"):
        try:
            await valossa.remove_face_image(image_id=image.id)
        except ValossaNotFound:
            # Already gone at Valossa (removed elsewhere): what was asked for.
            log.info("image %s was already removed at Valossa", image.id)
    await session.delete(image)
    await session.flush()
