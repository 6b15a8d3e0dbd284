"""Use cases of the CMS API on a media: its current state, its metadata, its erasure.

A media (the CMS's `customer_media_id`) may be analysed many times; as at Valossa, the newest
finished analysis is the media's current metadata.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import queries
from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis
from service.analyses.results import ABSENT, ResultBody
from service.analyses.schemas import AnalysisView, MediaView
from service.analyses.states import AnalysisStatus
from service.analyses.valossa_jobs import is_ours, list_every_job
from service.db import Reader
from service.errors import Conflict, NotFound, Unavailable
from service.valossa import ResultType, ValossaClient, ValossaError, ValossaNotFound

log = logging.getLogger(__name__)

#: Result types in Valossa's order, as plain strings (an enum's members are slow to iterate).
_RESULT_TYPES = [t.value for t in ResultType]


async def media_view(reader: Reader, customer_media_id: str) -> MediaView:
    """The media's latest analysis, its status, and what its current metadata holds."""
    state = await queries.media_state(reader, customer_media_id)
    if state is None:
        raise NotFound(
            f"no analysis for customer_media_id {customer_media_id!r}", reason="unknown_media"
        )
    return MediaView(
        customer_media_id=customer_media_id,
        status=state.latest.status,
        latest_analysis=AnalysisView.build(state.latest, state.latest_results, now=utcnow()),
        current_analysis_id=state.current_id,
        result_types=[t for t in _RESULT_TYPES if t in state.current_stored_types],
        analyses_count=state.analyses_count,
    )


async def current_analysis(session: AsyncSession, customer_media_id: str) -> Analysis:
    """The media's newest finished analysis (its current metadata), or a 404 problem whose
    `reason` says why there is none: `unknown_media` or `not_finished`."""
    current = await queries.latest_of_media(
        session, customer_media_id, status=AnalysisStatus.FINISHED
    )
    if current is not None:
        return current
    latest = await queries.latest_of_media(session, customer_media_id)
    if latest is None:
        raise NotFound(
            f"no analysis for customer_media_id {customer_media_id!r}", reason="unknown_media"
        )
    raise NotFound(
        f"no finished analysis yet for customer_media_id {customer_media_id!r}; "
        f"the latest analysis is {latest.status}",
        reason="not_finished",
        analysis_status=latest.status,
    )


async def metadata_body(
    session: AsyncSession, customer_media_id: str, result_type: ResultType
) -> ResultBody:
    """What to stream for one result type of the media's current metadata, or a 404 reason."""
    current = await current_analysis(session, customer_media_id)
    if result_type.value not in current.result_types:
        raise NotFound(
            f"{result_type.value} was not requested in the current analysis of this media "
            f"(requested: {', '.join(current.result_types)})",
            reason="type_not_requested",
        )
    record = await queries.stored_result(session, current.id, result_type.value)
    if record is None or record.state == ABSENT or record.sha256 is None:
        why = f": {record.absent_reason}" if record is not None and record.absent_reason else ""
        raise NotFound(
            f"Valossa produced no {result_type.value} for this media{why}", reason="type_absent"
        )
    return ResultBody(
        analysis_id=current.id,
        result_type=record.result_type,
        content_type=record.content_type or "application/octet-stream",
        size_bytes=record.size_bytes or 0,
        sha256=record.sha256,
    )


async def delete_media(
    session: AsyncSession, valossa: ValossaClient, customer_media_id: str
) -> None:
    """Delete the media's Valossa jobs (those this service created), then every row we hold.

    Valossa is called with no row lock held; the rows are locked afterwards and deleted only if
    nothing changed meanwhile (else 409: retry).
    """
    analyses = await queries.analyses_of_media(session, customer_media_id)
    _refuse_while_submitting(analyses)
    job_ids = {a.job_id for a in analyses if a.job_id is not None}
    try:
        if any(_may_have_orphans(a) for a in analyses):
            # A job whose new_job answer was lost and that no analysis recorded.
            jobs, _ = await list_every_job(valossa)
            job_ids |= {j.job_id for j in jobs if is_ours(j.customer_media_id, customer_media_id)}
        for job_id in sorted(job_ids):
            await _delete_job(valossa, job_id)
    except ValossaError as exc:
        log.warning("delete media: Valossa unavailable (%s)", type(exc).__name__)
        raise Unavailable(
            "Valossa could not be reached to delete this media's jobs; nothing of ours was "
            "deleted, retry later"
        ) from None
    locked = await queries.lock_media(session, customer_media_id)
    _refuse_while_submitting(locked)
    if {a.id for a in locked} != {a.id for a in analyses} or any(
        a.job_id is not None and a.job_id not in job_ids for a in locked
    ):
        raise Conflict("a new analysis of this media arrived during the delete; retry the delete")
    deleted = await queries.delete_analyses(session, locked)
    log.info(
        "deleted media %r: %d analyses, %d Valossa jobs", customer_media_id, deleted, len(job_ids)
    )


def _may_have_orphans(analysis: Analysis) -> bool:
    """True if an attempt of this analysis may have created a job that it did not record: more
    new_job attempts than the one job it has. Only then is Valossa's job list searched."""
    return analysis.submit_attempts > (1 if analysis.job_id is not None else 0)


def _refuse_while_submitting(analyses: list[Analysis]) -> None:
    if any(a.status == AnalysisStatus.SUBMITTING for a in analyses):
        # new_job may be on its way: deleting now could leave a job at Valossa we never erase.
        raise Conflict(
            "an analysis of this media is being submitted to Valossa; retry the delete in a few "
            "seconds"
        )


async def _delete_job(valossa: ValossaClient, job_id: str) -> None:
    with contextlib.suppress(ValossaNotFound):  # already gone: what we wanted
        await valossa.delete_job(job_id=job_id)
