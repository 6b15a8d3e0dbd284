"""Use cases of the CMS API on analyses: create (idempotently), read, list, history."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import queries
from service.analyses.lifecycle import Lifecycle, utcnow
from service.analyses.models import Analysis
from service.analyses.schemas import (
    AnalysisCreate,
    AnalysisPage,
    AnalysisView,
    EventList,
    EventView,
)
from service.analyses.sources import UnsafeSourceUrl, check_source_url
from service.analyses.states import AnalysisStatus
from service.analyses.steps.leases import notify_due
from service.db import Reader
from service.errors import BadRequest, NotFound, Unprocessable
from service.faces.flows.galleries import gallery_for_analysis
from service.settings import Settings

#: Who the event rows name for changes made through the CMS API.
API_ACTOR = "api"


def api_lifecycle(settings: Settings) -> Lifecycle:
    """The lifecycle used by API requests (webhooks enqueued when the CMS has an endpoint)."""
    return Lifecycle(actor=API_ACTOR, notify_cms=bool(settings.cms_webhook_url))


@dataclass(frozen=True)
class Created:
    """The analysis a POST produced, and whether it is new (202) or a replay (200)."""

    view: AnalysisView
    new: bool


def fingerprint(request: AnalysisCreate) -> str:
    """sha256 of the request's canonical JSON (defaults filled in), to compare retried bodies."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def create_analysis(
    session: AsyncSession,
    settings: Settings,
    request: AnalysisCreate,
    *,
    idempotency_key: str | None,
) -> Created:
    """Store a new pending analysis (the worker submits it), or replay an idempotent retry."""
    digest = fingerprint(request)
    if idempotency_key is not None:
        earlier = await queries.by_idempotency_key(session, idempotency_key)
        if earlier is not None:
            return Created(await _replay(session, earlier, digest), new=False)
    if request.source_url is not None:
        try:
            await check_source_url(
                request.source_url, allow_private=settings.allow_private_source_urls
            )
        except UnsafeSourceUrl as exc:
            raise Unprocessable(str(exc)) from None
    face_gallery_id = await gallery_for_analysis(session, request.face_gallery_id)
    analysis = Analysis(
        id=uuid.uuid4(),
        customer_media_id=request.customer_media_id,
        status=AnalysisStatus.PENDING,
        video_url=request.video_url,
        source_url=request.source_url,
        title=request.title,
        description=request.description,
        transcript_url=request.transcript_url,
        language=request.language,
        face_gallery_id=face_gallery_id,
        result_types=[str(t) for t in request.result_types],
        result_types_explicit="result_types" in request.model_fields_set,
        idempotency_key=idempotency_key,
        request_fingerprint=digest,
        next_attempt_at=utcnow(),
    )
    # A savepoint where a lost race is possible (two requests with one idempotency key), so
    # that losing it leaves the request usable; without a key it would only cost two round
    # trips (SAVEPOINT, RELEASE).
    race = session.begin_nested() if idempotency_key is not None else contextlib.nullcontext()
    try:
        async with race:
            session.add(analysis)
            api_lifecycle(settings).created(
                session, analysis, deadline=timedelta(seconds=settings.submit_deadline_s)
            )
            await session.flush()  # the INSERT returns the database's created_at/updated_at
    except IntegrityError:
        if idempotency_key is None:
            raise
        winner = await queries.by_idempotency_key(session, idempotency_key)
        if winner is None:
            raise
        return Created(await _replay(session, winner, digest), new=False)
    await notify_due(session)  # a worker takes it at once, not at its next interval
    return Created(AnalysisView.build(analysis, [], now=utcnow()), new=True)


async def _replay(session: AsyncSession, earlier: Analysis, digest: str) -> AnalysisView:
    if earlier.request_fingerprint != digest:
        raise Unprocessable(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new request",
            analysis_id=str(earlier.id),
        )
    return await view_of(session, earlier)


async def view_of(session: AsyncSession, analysis: Analysis) -> AnalysisView:
    """The resource of one analysis, with its stored-result records."""
    results = await queries.results_of(session, [analysis.id])
    return AnalysisView.build(analysis, results.get(analysis.id, []), now=utcnow())


async def find_analysis(
    session: AsyncSession, analysis_id: uuid.UUID, *, for_update: bool = False
) -> Analysis:
    """The analysis (locked for the transaction when `for_update`), or a 404 problem."""
    analysis = await queries.get_analysis(session, analysis_id, for_update=for_update)
    if analysis is None:
        raise NotFound(f"no analysis with id {analysis_id}")
    return analysis


async def analysis_view(session: AsyncSession, analysis_id: uuid.UUID) -> AnalysisView:
    """One analysis resource read in the session's transaction (for pages that read more)."""
    analysis = await find_analysis(session, analysis_id)
    results = await queries.results_of(session, [analysis.id])
    return AnalysisView.build(analysis, results.get(analysis.id, []), now=utcnow())


async def get_analysis(reader: Reader, analysis_id: uuid.UUID) -> AnalysisView:
    """One analysis resource (one statement)."""
    found = await queries.analysis_with_results(reader, analysis_id)
    if found is None:
        raise NotFound(f"no analysis with id {analysis_id}")
    return AnalysisView.build(*found, now=utcnow())


async def analysis_events(session: AsyncSession, analysis_id: uuid.UUID) -> EventList:
    """The history of one analysis, oldest first."""
    await find_analysis(session, analysis_id)
    events = await queries.events_of(session, analysis_id)
    return EventList(analysis_id=analysis_id, items=[EventView.build(e) for e in events])


async def list_analyses(
    session: AsyncSession,
    *,
    customer_media_id: str | None,
    status: AnalysisStatus | None,
    limit: int,
    cursor: str | None,
) -> AnalysisPage:
    """A page of analyses, newest first, with the cursor of the next page."""
    before = decode_cursor(cursor) if cursor else None
    rows = await queries.page_of_analyses(
        session,
        customer_media_id=customer_media_id,
        status=status,
        before=before,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    results = await queries.results_of(session, [a.id for a in page])
    now = utcnow()
    return AnalysisPage(
        items=[AnalysisView.build(a, results.get(a.id, []), now=now) for a in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


def encode_cursor(created_at: datetime, analysis_id: uuid.UUID) -> str:
    """An opaque cursor for the keyset position (created_at, id)."""
    raw = json.dumps([created_at.isoformat(), analysis_id.hex]).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The keyset position of a cursor, or a 400 problem (whatever the cursor holds)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        if not isinstance(document, list) or not all(isinstance(x, str) for x in document):
            raise ValueError("not a list of strings")
        created_at, analysis_id = document
        position = (datetime.fromisoformat(created_at), uuid.UUID(hex=analysis_id))
    except (ValueError, RecursionError):  # binascii.Error and UnicodeDecodeError included
        raise BadRequest("invalid cursor: pass the next_cursor of a previous page") from None
    if position[0].tzinfo is None:
        raise BadRequest("invalid cursor: pass the next_cursor of a previous page")
    return position
