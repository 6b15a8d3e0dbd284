"""Getting an analysis to Valossa: upload its source if needed, then new_job exactly once.

new_job is the one call that can bill twice. Before each call we record the intent
(`submit_attempts`, `submit_started_at`) in its own transaction; a later attempt after one that
may have reached Valossa first looks for that job with list_jobs and adopts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx

from service.analyses.models import Analysis
from service.analyses.sources import UnsafeSourceUrl, check_source_url
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import Step
from service.analyses.steps.leases import lock_claimed, renew_lease
from service.valossa import (
    AnalysisParameters,
    CustomerMediaInfo,
    FaceGalleries,
    GalleryRef,
    ListedJob,
    MediaUrl,
    NewJobMedia,
    ValossaApiError,
    ValossaAuthError,
    ValossaError,
    ValossaTransportError,
    upload_file,
)

log = logging.getLogger(__name__)

#: How many of the newest Valossa jobs to search for a job whose new_job answer we lost.
ADOPTION_WINDOW_JOBS = 1000
#: Clock skew allowed between us and Valossa when matching a job's creation time.
CLOCK_SKEW = timedelta(minutes=5)


async def upload_source(step: Step, analysis: Analysis) -> None:
    """Copy the analysis's source URL to Valossa in chunks, then make it ready to submit."""
    assert analysis.source_url is not None
    try:
        await check_source_url(
            analysis.source_url, allow_private=step.settings.allow_private_source_urls
        )
        async with _heartbeat(step, analysis), _download(step, analysis.source_url) as (size, body):
            url = await upload_file(
                step.valossa, body, size=size, parallelism=step.settings.upload_parallelism
            )
    except (SourceError, UnsafeSourceUrl) as exc:
        await step.fail(analysis.id, f"cannot read source_url: {exc}")
        return
    except ValossaApiError as exc:
        await step.fail_or_retry(analysis.id, exc, "upload to Valossa")
        return
    except (ValossaError, httpx.TransportError) as exc:
        await step.retry_later(analysis.id, f"upload interrupted: {_describe(exc)}")
        return
    async with step.transaction() as session:
        locked = await lock_claimed(session, analysis.id, step.worker)
        if locked is None:
            return
        locked.video_url = url
        step.lifecycle.move(session, locked, AnalysisStatus.SUBMITTING, reason=f"uploaded as {url}")
        step.extend_claim(locked)  # stays due (when the lease ends) if we stop before new_job
    await submit(step, locked)


async def submit(step: Step, analysis: Analysis) -> None:
    """Create the Valossa job for `analysis` (or adopt the one an earlier attempt created)."""
    if analysis.submit_attempts > 0:
        try:
            found = await find_submitted_job(step, analysis)
        except ValossaError as exc:
            await step.retry_later(analysis.id, f"list_jobs failed: {_describe(exc)}")
            return
        if found is not None:
            await _record_job(step, analysis, found.job_id, "adopted: found with list_jobs")
            return
    async with step.transaction() as session:
        locked = await lock_claimed(session, analysis.id, step.worker)
        if locked is None or not step.holds_lease(locked):
            return
        locked.submit_attempts += 1
        locked.submit_started_at = locked.submit_started_at or step.now()
        # A fresh lease that outlives the call below: no other worker can take the row meanwhile.
        step.extend_claim(locked)
        analysis = locked
    try:
        async with asyncio.timeout(step.settings.lease_s / 2):
            response = await step.valossa.new_job(
                media=_media(analysis),
                analysis_parameters=_parameters(analysis),
                callback_url=step.callback_url(analysis.id),
            )
    except ValossaApiError as exc:
        await step.fail_or_retry(analysis.id, exc, "new_job")
        return
    except (ValossaError, TimeoutError) as exc:
        # It may have reached Valossa all the same: the next attempt checks list_jobs first,
        # after giving a request we stopped waiting for the time to land there.
        settle = step.settings.valossa_timeout_s if _may_be_in_flight(exc) else 0.0
        await step.retry_later(analysis.id, f"new_job failed: {_describe(exc)}", min_delay_s=settle)
        return
    await _record_job(step, analysis, response.job_id, "accepted by Valossa")


def _may_be_in_flight(exc: Exception) -> bool:
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, ValossaTransportError) and exc.timed_out
    )


async def find_submitted_job(step: Step, analysis: Analysis) -> ListedJob | None:
    """The Valossa job an earlier attempt of this analysis created, if list_jobs shows one."""
    listing = await step.valossa.list_jobs(show_media_info=True, n_jobs=ADOPTION_WINDOW_JOBS)
    known = await step.known_job_ids(analysis.customer_media_id)
    since = (analysis.submit_started_at or analysis.created_at) - CLOCK_SKEW
    candidates = [
        job
        for job in listing.jobs
        if job.customer_media_id == analysis.customer_media_id
        and job.job_id not in known
        and _created_after(job, since)
        and _same_video(job, analysis)
    ]
    # Newest first from Valossa; the earliest match is the first attempt that got through.
    return candidates[-1] if candidates else None


def _same_video(job: ListedJob, analysis: Analysis) -> bool:
    """False only when list_jobs shows a video URL and it is not this analysis's."""
    extra = (job.media_info.model_extra or {}) if job.media_info else {}
    video = extra.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    return url is None or url == analysis.video_url


def _created_after(job: ListedJob, since: datetime) -> bool:
    raw = (job.model_extra or {}).get("created_at")
    if not isinstance(raw, str):
        return True  # Valossa does not document a creation time; then the id set decides.
    try:
        created = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return True
    return created.tzinfo is None or created >= since


async def _record_job(step: Step, analysis: Analysis, job_id: str, reason: str) -> None:
    async with step.transaction() as session:
        locked = await lock_claimed(session, analysis.id, step.worker)
        if locked is None:
            # Our claim is gone, but the job exists: keep it if the analysis still needs one.
            locked = await session.get(
                Analysis, analysis.id, with_for_update=True, populate_existing=True
            )
            if locked is None or locked.status != AnalysisStatus.SUBMITTING or locked.job_id:
                log.error(
                    "analysis %s no longer needs Valossa job %s; deleting the orphan",
                    analysis.id,
                    job_id,
                )
                await _delete_orphan(step, job_id)
                return
        locked.job_id = job_id
        locked.attempts = 0
        step.lifecycle.move(
            session,
            locked,
            AnalysisStatus.SUBMITTED,
            reason=f"{reason} (job {job_id})",
            deadline=timedelta(seconds=step.settings.analysis_deadline_s),
        )
        step.release(locked, delay_s=step.settings.poll_min_interval_s)


async def _delete_orphan(step: Step, job_id: str) -> None:
    try:
        await step.valossa.delete_job(job_id=job_id)
    except ValossaError as exc:
        log.error("could not delete orphan Valossa job %s: %s", job_id, exc)


def _media(analysis: Analysis) -> NewJobMedia:
    assert analysis.video_url is not None
    return NewJobMedia(
        video=MediaUrl(url=analysis.video_url),
        transcript=MediaUrl(url=analysis.transcript_url) if analysis.transcript_url else None,
        title=analysis.title,
        description=analysis.description,
        customer_media_info=CustomerMediaInfo(id=analysis.customer_media_id),
        language=analysis.language,
    )


def _parameters(analysis: Analysis) -> AnalysisParameters | None:
    if not analysis.face_gallery_id:
        return None
    gallery = FaceGalleries(custom_gallery=GalleryRef(id=analysis.face_gallery_id))
    return AnalysisParameters(face_galleries=gallery)


class SourceError(Exception):
    """The source URL cannot be read (refused, not found, no length); retrying will not help."""


@contextlib.asynccontextmanager
async def _download(step: Step, url: str) -> AsyncIterator[tuple[int, AsyncIterator[bytes]]]:
    async with step.http.stream("GET", url) as response:
        if response.status_code != 200:
            if response.status_code >= 500:
                raise httpx.TransportError(f"source answered {response.status_code}")
            raise SourceError(f"the server answered {response.status_code}")
        length = response.headers.get("content-length", "")
        if not length.isdigit() or int(length) <= 0:
            raise SourceError("the server did not give the file's size (Content-Length)")
        yield int(length), response.aiter_bytes()


@contextlib.asynccontextmanager
async def _heartbeat(step: Step, analysis: Analysis) -> AsyncIterator[None]:
    """Keep renewing this worker's claim while a long upload runs."""
    lease = timedelta(seconds=step.settings.lease_s)

    async def beat() -> None:
        while True:
            await asyncio.sleep(step.settings.lease_s / 3)
            try:
                async with step.transaction() as session:
                    await renew_lease(session, analysis.id, step.worker, lease)
            except Exception as exc:  # a missed beat is retried; the lease has slack for it
                log.warning("analysis %s: lease renewal failed (%s)", analysis.id, exc)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


__all__ = ["SourceError", "ValossaAuthError", "find_submitted_job", "submit", "upload_source"]
