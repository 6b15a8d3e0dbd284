"""Face galleries: create, list, rename; the default gallery; galleries named by analyses."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound, Unprocessable
from service.faces import queries
from service.faces.models import FaceGallery
from service.faces.refusals import valossa_answers
from service.faces.schemas import GalleryCreate, GalleryList, GalleryRename, GalleryView
from service.valossa import ValossaClient
from service.valossa.training_models import FaceGallery as ListedGallery

#: How the API names the default gallery, whatever its id at Valossa.
DEFAULT = "default"


def is_default_gallery(listed: ListedGallery) -> bool:
    """Whether Valossa lists this gallery as the key's default one.

    list_face_galleries(show_details=true) says `is_default`; where it does not, the default
    gallery is the one without a name (custom galleries are always created with one).
    """
    flag = (listed.model_extra or {}).get("is_default")
    if isinstance(flag, bool):
        return flag
    return listed.name is None


async def find_gallery(session: AsyncSession, ref: str) -> FaceGallery | None:
    """The gallery `ref` names (an id or `default`); None only for a default not made yet."""
    if ref == DEFAULT:
        return await queries.default_gallery(session)
    gallery = await queries.gallery(session, ref)
    if gallery is None:
        raise NotFound(f"no face gallery with id {ref!r}")
    return gallery


async def create_gallery(
    session: AsyncSession, valossa: ValossaClient, body: GalleryCreate, *, created_by: str
) -> GalleryView:
    """Create a named gallery at Valossa, then record it."""
    with valossa_answers("create the face gallery", may_take_effect=True):
        reply = await valossa.create_face_gallery(name=body.name)
    gallery = FaceGallery(
        id=reply.gallery_id, name=body.name, is_default=False, created_by=created_by
    )
    session.add(gallery)
    await session.flush()
    await session.refresh(gallery)
    return GalleryView.build(gallery, face_count=0)


async def list_galleries(session: AsyncSession) -> GalleryList:
    """Every gallery of the mirror with its number of faces."""
    rows = await queries.galleries(session)
    return GalleryList(items=[GalleryView.build(g, face_count=n) for g, n in rows])


async def rename_gallery(
    session: AsyncSession, valossa: ValossaClient, ref: str, body: GalleryRename
) -> GalleryView:
    """Rename a custom gallery at Valossa, then here; the default gallery cannot be renamed."""
    gallery = await find_gallery(session, ref)
    if gallery is None or gallery.is_default:
        raise Unprocessable("the default face gallery cannot be renamed (Valossa forbids it)")
    with valossa_answers("rename the face gallery"):
        await valossa.update_face_gallery(gallery_id=gallery.id, name=body.name)
    gallery.name = body.name
    await session.flush()
    await session.refresh(gallery, ["updated_at"])
    return GalleryView.build(gallery, face_count=await queries.face_count(session, gallery.id))


async def record_default_gallery(
    session: AsyncSession, valossa: ValossaClient
) -> FaceGallery | None:
    """The default gallery, recorded from Valossa's list if the mirror lacks it; None if
    Valossa has not made it yet (it does with the first face added without a gallery)."""
    known = await queries.default_gallery(session)
    if known is not None:
        return known
    with valossa_answers("find the default face gallery"):
        listed = await valossa.list_face_galleries(show_details=True)
    found = [g for g in listed.face_galleries if is_default_gallery(g)]
    if len(found) != 1:
        return None
    # Concurrent requests may record it at the same time: the first insert wins.
    await session.execute(
        insert(FaceGallery)
        .values(id=found[0].id, name=found[0].name, is_default=True)
        .on_conflict_do_nothing()
    )
    return await queries.default_gallery(session)


async def gallery_for_analysis(session: AsyncSession, ref: str | None) -> str | None:
    """The gallery id to submit with an analysis (None: Valossa's default gallery), or 422
    when `ref` is not one of our galleries."""
    if ref is None or ref == DEFAULT:
        return None
    gallery = await queries.gallery(session, ref)
    if gallery is None:
        raise Unprocessable(
            f"face_gallery_id {ref!r} is not one of our face galleries: GET /v1/face-galleries "
            "lists them (`valossa-ingest faces sync` records galleries made elsewhere)"
        )
    # Valossa uses the default gallery when none is named.
    return None if gallery.is_default else gallery.id
