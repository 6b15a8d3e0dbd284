"""Make the mirror match a listing of Valossa's galleries, faces and images."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.faces.models import Face, FaceGallery, FaceImage
from service.valossa.training_models import FaceGallery as ListedGallery
from service.valossa.training_models import FaceIdentity


@dataclass
class ValossaFaces:
    """Everything the Training API lists for our key."""

    galleries: list[ListedGallery] = field(default_factory=list)
    default_gallery_ids: set[str] = field(default_factory=set)
    #: Faces with the id of the gallery that lists them.
    faces: list[tuple[str, FaceIdentity]] = field(default_factory=list)
    #: Image ids by face id.
    images: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Changes:
    """What a sync changed in the mirror, one readable line per change, and what Valossa has."""

    lines: list[str] = field(default_factory=list)
    galleries: int = 0
    faces: int = 0
    images: int = 0


async def reconcile(session: AsyncSession, seen: ValossaFaces, *, started_at: datetime) -> Changes:
    """Insert, update and delete mirror rows until they say what `seen` says; rows changed
    since `started_at` are newer than the listing and kept."""
    changes = Changes(
        galleries=len(seen.galleries),
        faces=len(seen.faces),
        images=sum(len(ids) for ids in seen.images.values()),
    )
    galleries = {g.id: g for g in await session.scalars(select(FaceGallery))}
    faces = {f.id: f for f in await session.scalars(select(Face))}
    images = {i.id: i for i in await session.scalars(select(FaceImage))}

    def stale(row: FaceGallery | Face) -> bool:
        return row.updated_at < started_at

    # Deletions first, so that a default flag or an id can move to a new row.
    listed_galleries = {g.id for g in seen.galleries}
    for gallery in galleries.values():
        if gallery.id not in listed_galleries and stale(gallery):
            with_faces = sum(1 for f in faces.values() if f.gallery_id == gallery.id)
            changes.lines.append(
                f"gallery {gallery.id} ({gallery.name}): removed with its {with_faces} face(s), "
                "Valossa has none"
            )
            await session.delete(gallery)
    listed_faces = {face.id for _, face in seen.faces}
    for face in faces.values():
        if face.id not in listed_faces and stale(face) and face.gallery_id in listed_galleries:
            changes.lines.append(f"face {face.id} ({face.name}): removed, Valossa has none")
            await session.delete(face)
    listed_images = {i: face_id for face_id, ids in seen.images.items() for i in ids}
    for image in images.values():
        if (
            image.id not in listed_images
            and image.face_id in listed_faces
            and image.created_at < started_at
        ):
            changes.lines.append(f"image {image.id} of face {image.face_id}: removed")
            await session.delete(image)
    await session.flush()

    for listed in seen.galleries:
        is_default = listed.id in seen.default_gallery_ids
        row = galleries.get(listed.id)
        if row is None:
            session.add(FaceGallery(id=listed.id, name=listed.name, is_default=is_default))
            changes.lines.append(f"gallery {listed.id} ({listed.name}): added")
        elif stale(row) and (row.name, row.is_default) != (listed.name, is_default):
            changes.lines.append(
                f"gallery {listed.id}: "
                + _difference(
                    ("name", "default"), (row.name, row.is_default), (listed.name, is_default)
                )
            )
            row.name, row.is_default = listed.name, is_default
    await session.flush()

    for gallery_id, listed_face in seen.faces:
        known_face = faces.get(listed_face.id)
        if known_face is None:
            session.add(
                Face(
                    id=listed_face.id,
                    gallery_id=gallery_id,
                    name=listed_face.name,
                    gender=listed_face.gender,
                )
            )
            changes.lines.append(f"face {listed_face.id} ({listed_face.name}): added")
            continue
        now = (gallery_id, listed_face.name, listed_face.gender)
        before = (known_face.gallery_id, known_face.name, known_face.gender)
        if stale(known_face) and now != before:
            changes.lines.append(
                f"face {known_face.id}: " + _difference(("gallery", "name", "gender"), before, now)
            )
            known_face.gallery_id, known_face.name, known_face.gender = now
    await session.flush()

    for image_id, face_id in listed_images.items():
        known = images.get(image_id)
        if known is None:
            session.add(FaceImage(id=image_id, face_id=face_id))
            changes.lines.append(f"image {image_id} of face {face_id}: added")
        elif known.face_id != face_id:
            changes.lines.append(f"image {image_id}: face {known.face_id} -> {face_id}")
            known.face_id = face_id
    await session.flush()
    return changes


def _difference(names: tuple[str, ...], before: tuple[object, ...], now: tuple[object, ...]) -> str:
    return ", ".join(
        f"{name} {old!r} -> {new!r}"
        for name, old, new in zip(names, before, now, strict=True)
        if old != new
    )
