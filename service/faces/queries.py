"""The SQL of the face mirror: plain functions over a session, no commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import Base
from service.errors import Conflict
from service.faces.models import Face, FaceGallery, FaceImage


async def add_row(session: AsyncSession, row: Base, *, conflict: str) -> None:
    """Insert a row Valossa has just made; a 409 with `conflict` if its parent went meanwhile."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(conflict) from None
    await session.refresh(row)


async def gallery(session: AsyncSession, gallery_id: str) -> FaceGallery | None:
    """One gallery by Valossa's id."""
    return await session.get(FaceGallery, gallery_id)


async def default_gallery(session: AsyncSession) -> FaceGallery | None:
    """The default gallery, once Valossa has made it."""
    return await session.scalar(select(FaceGallery).where(FaceGallery.is_default))


async def galleries(session: AsyncSession) -> list[tuple[FaceGallery, int]]:
    """Every gallery with its number of faces, the default one first, then oldest first."""
    face_count = select(func.count()).where(Face.gallery_id == FaceGallery.id).scalar_subquery()
    rows = await session.execute(
        select(FaceGallery, face_count).order_by(
            FaceGallery.is_default.desc(), FaceGallery.created_at, FaceGallery.id
        )
    )
    return [(row[0], int(row[1])) for row in rows.all()]


async def face_count(session: AsyncSession, gallery_id: str) -> int:
    """How many faces a gallery has."""
    count = await session.scalar(select(func.count()).where(Face.gallery_id == gallery_id))
    return count or 0


async def face(session: AsyncSession, face_id: str) -> Face | None:
    """One face by Valossa's id."""
    return await session.get(Face, face_id)


async def faces_of(session: AsyncSession, gallery_id: str) -> list[Face]:
    """The faces of a gallery, oldest first."""
    rows = await session.scalars(
        select(Face).where(Face.gallery_id == gallery_id).order_by(Face.created_at, Face.id)
    )
    return list(rows)


async def image_ids_of(session: AsyncSession, face_ids: Sequence[str]) -> dict[str, list[str]]:
    """The training image ids of several faces, oldest first, by face id."""
    found: dict[str, list[str]] = defaultdict(list)
    if not face_ids:
        return found
    rows = await session.execute(
        select(FaceImage.face_id, FaceImage.id)
        .where(FaceImage.face_id.in_(face_ids))
        .order_by(FaceImage.face_id, FaceImage.created_at, FaceImage.id)
    )
    for face_id, image_id in rows.all():
        found[face_id].append(image_id)
    return found


async def images_of(session: AsyncSession, face_ids: Sequence[str]) -> list[FaceImage]:
    """The training images of several faces, oldest first."""
    if not face_ids:
        return []
    rows = await session.scalars(
        select(FaceImage)
        .where(FaceImage.face_id.in_(face_ids))
        .order_by(FaceImage.created_at, FaceImage.id)
    )
    return list(rows)


async def image(session: AsyncSession, image_id: str) -> FaceImage | None:
    """One training image by Valossa's id."""
    return await session.get(FaceImage, image_id)
