"""Getting an analysis to Valossa: new_job exactly once (a source_url was uploaded before,
by source_transfer.py).

new_job is the one call that can bill twice. Before each call we record the intent
(`submit_attempts`) in its own transaction, and every attempt gives Valossa a customer media id
of its own (valossa_jobs.py). A later attempt after one whose answer was lost looks for those
ids in list_jobs, matched exactly whatever the list's order, and adopts the job it finds
instead of creating another.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import (
    Claim,
    database_now,
    lock_claimed,
    release,
    remember_now,
)
from service.analyses.steps.outcomes import describe, fail, fail_or_retry, retry_later
from service.analyses.valossa_jobs import list_every_job, valossa_media_id
from service.valossa import (
    AnalysisParameters,
    CustomerMediaInfo,
    FaceGalleries,
    GalleryRef,
    MediaUrl,
    NewJobMedia,
    ValossaApiError,
    ValossaClient,
    ValossaError,
    ValossaNotFound,
    ValossaTransportError,
)

log = logging.getLogger(__name__)


async def submit(ctx: StepContext, claim: Claim, analysis: Analysis) -> None:
    """Create the Valossa job for `analysis` (or adopt the one an earlier attempt created)."""
    if analysis.submit_attempts > 0:
        try:
            found = await find_submitted_job(ctx.valossa, analysis)
        except ValossaError as exc:
            await retry_later(ctx, claim, f"looking for an earlier attempt's job failed: {exc}")
            return
        except UnidentifiableJob as exc:
            await fail(ctx, claim, str(exc))
            return
        if found is not None:
            await record_job(ctx, claim, analysis, found, "adopted: found with list_jobs")
            return
    async with ctx.transaction() as session:
        locked = await lock_claimed(session, claim)
        if locked is None:
            return
        locked.submit_attempts += 1
        # A fresh lease that outlives the call below: no other worker can take the row meanwhile.
        locked.claimed_until = await database_now(session) + timedelta(seconds=ctx.settings.lease_s)
        attempt = locked.submit_attempts
        analysis = locked
    try:
        async with asyncio.timeout(ctx.settings.lease_s / 2):
            response = await ctx.valossa.new_job(
                media=_media(analysis, attempt),
                analysis_parameters=_parameters(analysis),
                callback_url=ctx.callback_url(analysis.id),
            )
    except ValossaApiError as exc:
        await fail_or_retry(ctx, claim, exc, "new_job")
        return
    except (ValossaError, TimeoutError) as exc:
        # It may have reached Valossa all the same: the next attempt looks for it first, after
        # giving a request we stopped waiting for the time to land there.
        settle = ctx.settings.valossa_timeout_s if _may_be_in_flight(exc) else 0.0
        await retry_later(ctx, claim, f"new_job failed: {describe(exc)}", min_delay_s=settle)
        return
    await record_job(ctx, claim, analysis, response.job_id, "accepted by Valossa")


def _may_be_in_flight(exc: Exception) -> bool:
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, ValossaTransportError) and exc.timed_out
    )


class UnidentifiableJob(Exception):
    """Valossa has an earlier attempt's job, but nothing documented tells us its job id."""


async def find_submitted_job(valossa: ValossaClient, analysis: Analysis) -> str | None:
    """The job id of the job an earlier attempt of `analysis` created, if Valossa has one.

    Duplicate jobs (two attempts that both got through) are deleted, keeping the first.
    """
    markers = {
        valossa_media_id(analysis.customer_media_id, analysis.id, n): n
        for n in range(1, analysis.submit_attempts + 1)
    }
    jobs, complete = await list_every_job(valossa)
    found = sorted(
        (markers[job.customer_media_id], job.job_id)
        for job in jobs
        if job.customer_media_id in markers
    )
    if found:
        for _, duplicate in found[1:]:
            log.error("analysis %s: deleting duplicate Valossa job %s", analysis.id, duplicate)
            await delete_orphan(valossa, duplicate)
        return found[0][1]
    if complete:
        return None
    # More jobs than list_jobs shows: ask for each attempt's id directly (documented lookup).
    for marker in markers:
        try:
            status = await valossa.job_status(customer_media_id=marker)
        except ValossaNotFound:
            continue
        job_id = (status.model_extra or {}).get("job_id")
        if isinstance(job_id, str) and job_id:
            return job_id
        raise UnidentifiableJob(
            f"Valossa has the job of an earlier attempt (customer media id {marker!r}) but "
            "reports no job id for it; not submitting again. Check the job in Valossa Portal."
        )
    return None


async def record_job(
    ctx: StepContext, claim: Claim, analysis: Analysis, job_id: str, reason: str
) -> None:
    """Store the job id and move to submitted; a job nobody needs any more is deleted."""
    async with ctx.transaction() as session:
        # Even if our claim is gone, the job exists: keep it if the analysis still needs one.
        locked = await _waiting_for_job(session, analysis.id)
        if locked is not None:
            locked.job_id = job_id
            locked.attempts = 0
            locked.error = None
            ctx.lifecycle.move(
                session,
                locked,
                AnalysisStatus.SUBMITTED,
                reason=f"{reason} (job {job_id})",
                deadline=timedelta(seconds=ctx.settings.analysis_deadline_s),
            )
            now = await database_now(session)
            first_check = ctx.settings.poll_min_interval_s
            locked.poll_hint_at = now + timedelta(seconds=first_check)
            if locked.callback_at is not None:
                # Valossa called back before we recorded the job: it has ended, look now.
                release(locked, now, delay_s=0)
            else:
                release(locked, now, delay_s=await ctx.next_check_in(session, first_check))
            return
    log.error("analysis %s no longer needs Valossa job %s; deleting it", analysis.id, job_id)
    await delete_orphan(ctx.valossa, job_id)


async def _waiting_for_job(session: AsyncSession, analysis_id: uuid.UUID) -> Analysis | None:
    """The analysis under a row lock if it is still being submitted and has no job yet."""
    found = (
        await session.execute(
            select(Analysis, func.now())  # kept for database_now: the job is recorded at it
            .where(Analysis.id == analysis_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if found is None:
        return None
    remember_now(session, found[1])
    row: Analysis = found[0]
    if row.status != AnalysisStatus.SUBMITTING or row.job_id:
        return None
    return row


async def delete_orphan(valossa: ValossaClient, job_id: str) -> None:
    """Delete a job of ours that no analysis records (best effort; logged when it fails)."""
    try:
        await valossa.delete_job(job_id=job_id)
    except ValossaNotFound:
        pass
    except ValossaError as exc:
        log.error("could not delete orphan Valossa job %s: %s", job_id, exc)


def _media(analysis: Analysis, attempt: int) -> NewJobMedia:
    assert analysis.video_url is not None
    return NewJobMedia(
        video=MediaUrl(url=analysis.video_url),
        transcript=MediaUrl(url=analysis.transcript_url) if analysis.transcript_url else None,
        title=analysis.title,
        description=analysis.description,
        customer_media_info=CustomerMediaInfo(
            id=valossa_media_id(analysis.customer_media_id, analysis.id, attempt)
        ),
        language=analysis.language,
    )


def _parameters(analysis: Analysis) -> AnalysisParameters | None:
    if not analysis.face_gallery_id:
        return None
    gallery = FaceGalleries(custom_gallery=GalleryRef(id=analysis.face_gallery_id))
    return AnalysisParameters(face_galleries=gallery)
