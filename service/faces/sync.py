"""`valossa-ingest faces sync`: read what Valossa has, then make the mirror say the same."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select

from service.db import SessionMaker
from service.faces.flows.galleries import is_default_gallery
from service.faces.reconcile import Changes, ValossaFaces, reconcile
from service.valossa import ValossaClient
from service.valossa.training_models import FaceIdentity

#: Training API listings in flight at once (one list_face_images call per face).
LISTING_PARALLELISM = 8


async def read_valossa(valossa: ValossaClient) -> ValossaFaces:
    """List galleries, their faces (with details) and each face's images."""
    seen = ValossaFaces()
    seen.galleries = (await valossa.list_face_galleries(show_details=True)).face_galleries
    seen.default_gallery_ids = {g.id for g in seen.galleries if is_default_gallery(g)}
    slots = asyncio.Semaphore(LISTING_PARALLELISM)

    async def faces_of(gallery_id: str) -> list[tuple[str, FaceIdentity]]:
        async with slots:
            listed = await valossa.list_face_identities(gallery_id=gallery_id, show_details=True)
        return [(gallery_id, face) for face in listed.face_identities]

    async def images_of(face_id: str) -> tuple[str, list[str]]:
        async with slots:
            listed = await valossa.list_face_images(face_id=face_id)
        return face_id, [image.id for image in listed.face_images]

    for batch in await asyncio.gather(*(faces_of(g.id) for g in seen.galleries)):
        seen.faces.extend(batch)
    seen.images = dict(await asyncio.gather(*(images_of(f.id) for _, f in seen.faces)))
    return seen


async def sync_faces(
    sessionmaker: SessionMaker, valossa: ValossaClient, *, dry_run: bool = False
) -> Changes:
    """Reconcile the mirror with Valossa in one transaction; what changed (or would have).

    Rows written after the sync started reading Valossa are left alone: an API request that
    ran meanwhile knows better than a listing taken before it.
    """
    async with sessionmaker() as session:
        started_at = await session.scalar(select(func.clock_timestamp()))
    assert isinstance(started_at, datetime)
    seen = await read_valossa(valossa)
    async with sessionmaker() as session:
        changes = await reconcile(session, seen, started_at=started_at)
        if dry_run:
            await session.rollback()
        else:
            await session.commit()
    return changes
