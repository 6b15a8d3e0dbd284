"""Face identities: create in a gallery, list, update, remove."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound, Unavailable
from service.faces import queries
from service.faces.flows.galleries import DEFAULT, find_gallery, record_default_gallery
from service.faces.models import Face
from service.faces.refusals import valossa_answers
from service.faces.schemas import FaceCreate, FaceList, FaceUpdate, FaceView
from service.valossa import KEEP, ValossaClient, ValossaNotFound

log = logging.getLogger(__name__)


async def find_face(session: AsyncSession, face_id: str) -> Face:
    """The face, or a 404 problem."""
    face = await queries.face(session, face_id)
    if face is None:
        raise NotFound(f"no face with id {face_id!r}")
    return face


async def view_of(session: AsyncSession, face: Face) -> FaceView:
    """The resource of one face with its image ids."""
    image_ids = await queries.image_ids_of(session, [face.id])
    return FaceView.build(face, image_ids.get(face.id, []))


async def create_face(
    session: AsyncSession,
    valossa: ValossaClient,
    gallery_ref: str,
    body: FaceCreate,
    *,
    created_by: str,
) -> FaceView:
    """Create a face identity at Valossa in the gallery (`default` works), then record it."""
    gallery = await find_gallery(session, gallery_ref)
    if gallery is None:
        gallery = await record_default_gallery(session, valossa)
    with valossa_answers("create the face", may_take_effect=True):
        reply = await valossa.create_face_identity(
            gallery_id=None if gallery_ref == DEFAULT else gallery_ref,
            name=body.name,
            gender=body.gender,
        )
    if gallery is None:
        # This face made the default gallery at Valossa: learn its id now.
        gallery = await record_default_gallery(session, valossa)
        if gallery is None:
            raise Unavailable(
                f"Valossa created face {reply.face_id} but did not list its default gallery; "
                "`valossa-ingest faces sync` records both"
            )
    face = Face(
        id=reply.face_id,
        gallery_id=gallery.id,
        name=body.name,
        gender=body.gender,
        created_by=created_by,
    )
    await queries.add_row(
        session, face, conflict="the gallery was removed while the face was being created"
    )
    return FaceView.build(face, [])


async def list_faces(session: AsyncSession, gallery_ref: str) -> FaceList:
    """The faces of a gallery with their image ids (none for a default gallery not made yet)."""
    gallery = await find_gallery(session, gallery_ref)
    if gallery is None:
        return FaceList(gallery_id=None, items=[])
    faces = await queries.faces_of(session, gallery.id)
    image_ids = await queries.image_ids_of(session, [f.id for f in faces])
    return FaceList(
        gallery_id=gallery.id, items=[FaceView.build(f, image_ids.get(f.id, [])) for f in faces]
    )


async def update_face(
    session: AsyncSession, valossa: ValossaClient, face_id: str, body: FaceUpdate
) -> FaceView:
    """Change the name and/or gender at Valossa, then here (null unsets a field)."""
    face = await find_face(session, face_id)
    fields = body.model_fields_set
    with valossa_answers("update the face"):
        await valossa.update_face_identity(
            face_id=face.id,
            name=body.name if "name" in fields else KEEP,
            gender=body.gender if "gender" in fields else KEEP,
        )
    if "name" in fields:
        face.name = body.name
    if "gender" in fields:
        face.gender = body.gender
    await session.flush()
    await session.refresh(face, ["updated_at"])
    return await view_of(session, face)


async def delete_face(session: AsyncSession, valossa: ValossaClient, face_id: str) -> None:
    """Remove the face and its images at Valossa, then here."""
    face = await find_face(session, face_id)
    with valossa_answers("remove the face"):
        try:
            await valossa.remove_face_identity(face_id=face.id)
        except ValossaNotFound:
            # Already gone at Valossa (removed elsewhere): what was asked for.
            log.info("face %s was already removed at Valossa", face.id)
    await session.delete(face)
    await session.flush()
