"""What each operator page shows and what its forms do, through the API's own flows."""

from __future__ import annotations

import secrets
import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from service.analyses import queries as analysis_queries
from service.analyses.flows import analyses as analysis_flows
from service.analyses.flows import cancel as cancel_flows
from service.analyses.lifecycle import utcnow
from service.analyses.metrics import read_gauges
from service.analyses.results import STORED, ResultBody
from service.analyses.schemas import AnalysisCreate
from service.analyses.states import TERMINAL, AnalysisStatus
from service.errors import BadRequest, NotFound, Unprocessable
from service.faces import queries as face_queries
from service.faces.flows import faces as face_flows
from service.faces.flows import galleries as gallery_flows
from service.faces.flows import images as image_flows
from service.faces.images import MAX_IMAGE_BYTES, ImageRefused, check_image
from service.faces.schemas import FaceCreate, GalleryCreate
from service.resources import Resources
from service.search import views as search_views
from service.settings import Settings
from service.text import storable
from service.ui import queries
from service.ui.auth import Operator
from service.valossa import ResultType
from service.webhooks import queries as webhook_queries

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Rows per page of the analyses list.
PAGE_SIZE = 50
_EXTENSIONS = {"application/json": "json", "application/x-subrip": "srt", "text/vtt": "vtt"}


async def analyses_page(
    session: AsyncSession,
    settings: Settings,
    *,
    status: str,
    customer_media_id: str | None,
    overdue_only: bool,
    cursor: str | None,
) -> dict[str, Any]:
    """The gauges and one keyset page of analyses (an empty filter field means "any")."""
    try:
        wanted = AnalysisStatus(status) if status else None
    except ValueError:
        raise BadRequest(f"unknown status {status!r}") from None
    before = analysis_flows.decode_cursor(cursor) if cursor else None
    rows = await queries.page_of_analyses(
        session,
        status=wanted,
        customer_media_id=customer_media_id,
        overdue_only=overdue_only,
        before=before,
        limit=PAGE_SIZE + 1,
    )
    page = rows[:PAGE_SIZE]
    more = len(rows) > PAGE_SIZE
    now = utcnow()
    return {
        "gauges": await read_gauges(session),
        "webhooks": await webhook_queries.backlog(session),
        "max_in_flight": settings.valossa_max_in_flight,
        "analyses": page,
        "statuses": [s.value for s in AnalysisStatus],
        "overdue_ids": {
            a.id
            for a in page
            if a.status not in TERMINAL
            and (a.overdue_since is not None or (a.deadline_at and a.deadline_at < now))
        },
        "filters": {
            "status": wanted.value if wanted else "",
            "customer_media_id": customer_media_id or "",
            "overdue": overdue_only,
        },
        "next_cursor": (
            analysis_flows.encode_cursor(page[-1].created_at, page[-1].id) if more else None
        ),
        "paged": cursor is not None,
    }


async def analysis_page(session: AsyncSession, analysis_id: uuid.UUID) -> dict[str, Any]:
    """One analysis, its history, its stored results, its CMS notifications, and whether the
    media page shows it (only a media's newest finished analysis is indexed)."""
    view = await analysis_flows.analysis_view(session, analysis_id)
    events = await analysis_flows.analysis_events(session, analysis_id)
    indexed, unindexed_why = None, None
    try:
        indexed = await search_views.indexed_media(session, view.customer_media_id)
    except NotFound as exc:
        unindexed_why = exc.detail
    return {
        "analysis": view,
        "indexed": indexed,
        "unindexed_why": unindexed_why,
        "events": events.items,
        "webhooks": await queries.webhooks_of(session, analysis_id),
        "can_cancel": view.status not in TERMINAL,
        "request_key": secrets.token_urlsafe(16),
    }


async def stored_result(
    session: AsyncSession, analysis_id: uuid.UUID, result_type: str
) -> tuple[ResultBody, str]:
    """What to stream for a stored result of an analysis, and a file name for it."""
    analysis = await analysis_flows.find_analysis(session, analysis_id)
    record = await analysis_queries.stored_result(session, analysis_id, result_type)
    if record is None or record.state != STORED or record.sha256 is None:
        raise NotFound(f"analysis {analysis_id} has no stored {result_type}")
    content_type = record.content_type or "application/octet-stream"
    extension = _EXTENSIONS.get(content_type.split(";")[0], "txt")
    safe_media = "".join(
        c if c.isalnum() or c in "-_." else "_" for c in analysis.customer_media_id
    )
    body = ResultBody(
        analysis_id=analysis_id,
        result_type=record.result_type,
        content_type=content_type,
        size_bytes=record.size_bytes or 0,
        sha256=record.sha256,
    )
    return body, f"{safe_media[:100]}-{result_type}.{extension}"


async def cancel(session: AsyncSession, resources: Resources, analysis_id: uuid.UUID) -> None:
    """Cancel through the API's flow (the same rules and answers as the CMS gets)."""
    await cancel_flows.cancel_analysis(session, resources.settings, resources.valossa, analysis_id)


async def reanalyse(
    session: AsyncSession, settings: Settings, analysis_id: uuid.UUID, request_key: str
) -> uuid.UUID:
    """A new analysis of the same media with the same inputs; a resubmitted form is a replay."""
    try:
        storable(request_key)  # a hidden field of the page; part of the stored idempotency key
    except ValueError as exc:
        raise Unprocessable(f"request_key {exc}") from None
    old = await analysis_flows.find_analysis(session, analysis_id)
    try:
        request = AnalysisCreate(
            customer_media_id=old.customer_media_id,
            video_url=old.video_url,
            source_url=old.source_url,
            title=old.title,
            description=old.description,
            transcript_url=old.transcript_url,
            language=old.language,
            face_gallery_id=old.face_gallery_id,
            result_types=[ResultType(t) for t in old.result_types],
        )
    except ValidationError as exc:
        raise Unprocessable(
            f"the stored inputs are no longer valid: {exc.errors()[0]['msg']}"
        ) from None
    key = f"ui-reanalyse:{analysis_id}:{request_key}" if request_key else None
    created = await analysis_flows.create_analysis(session, settings, request, idempotency_key=key)
    return created.view.id


async def galleries_page(session: AsyncSession) -> dict[str, Any]:
    """Every gallery with its number of faces."""
    return {"galleries": (await gallery_flows.list_galleries(session)).items}


async def gallery_page(session: AsyncSession, gallery_ref: str) -> dict[str, Any]:
    """A gallery, its faces and each face's training images."""
    gallery = await gallery_flows.find_gallery(session, gallery_ref)
    faces = await face_flows.list_faces(session, gallery_ref)
    images = await face_queries.images_of(session, [f.id for f in faces.items])
    by_face: dict[str, list[Any]] = {f.id: [] for f in faces.items}
    for image in images:
        by_face[image.face_id].append(image)
    return {
        "gallery": gallery,
        "gallery_ref": gallery_ref,
        "faces": faces.items,
        "images": by_face,
        "max_image_mib": MAX_IMAGE_BYTES // (1024 * 1024),
    }


async def create_gallery(
    session: AsyncSession, resources: Resources, form: FormData, operator: Operator
) -> str:
    """Create a gallery from the form; its id."""
    body = _parse(GalleryCreate, {"name": _text(form, "name")})
    created = await gallery_flows.create_gallery(
        session, resources.valossa, body, created_by=operator.session.fingerprint
    )
    return created.id


async def add_face(
    session: AsyncSession,
    resources: Resources,
    gallery_ref: str,
    form: FormData,
    operator: Operator,
) -> None:
    """Create a face from the form (empty fields are left unset)."""
    fields = {"name": _text(form, "name") or None, "gender": _text(form, "gender") or None}
    body = _parse(FaceCreate, fields)
    await face_flows.create_face(
        session, resources.valossa, gallery_ref, body, created_by=operator.session.fingerprint
    )


async def add_image(
    session: AsyncSession, resources: Resources, face_id: str, form: FormData, operator: Operator
) -> None:
    """Check the uploaded file, then add it to the face through the API's flow."""
    upload = form.get("image")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Unprocessable("choose a JPG or PNG file to upload")
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    try:
        checked = check_image(data, filename=upload.filename, declared_type=upload.content_type)
    except ImageRefused as exc:
        raise Unprocessable(str(exc)) from None
    await image_flows.add_image(
        session, resources.valossa, face_id, checked, created_by=operator.session.fingerprint
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _parse(model: type[ModelT], fields: dict[str, Any]) -> ModelT:
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Unprocessable(problems) from None
