"""Jobs as the Core API sees them: create, look up, cancel, delete."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any
from urllib.parse import urlsplit

from service.emulator.entities import Job, utc_now
from service.emulator.errors import BadRequest, EmulatorError, NotFound
from service.emulator.languages import DEFAULT_LANGUAGE, accepted_languages
from service.emulator.listing import shown_status
from service.emulator.schemas import NewJobRequest
from service.emulator.state import EmulatorState
from service.emulator.status import CANCELLABLE, JobStatus

UPLOAD_SCHEME = "valossaupload://"


def create_job(state: EmulatorState, owner: str, body: NewJobRequest, echo: dict[str, Any]) -> Job:
    """Accept a new_job request; media transfer starts later, on the job clock."""
    media = body.media
    _check_language(state, media.language)
    _check_media_url(state, owner, media.video.url, "media.video.url", uploads=True)
    transcript_url = media.transcript.url if media.transcript else None
    if transcript_url is not None:
        _check_media_url(state, owner, transcript_url, "media.transcript.url", uploads=False)
    gallery_id = None
    params = body.analysis_parameters
    if params and params.face_galleries and params.face_galleries.custom_gallery:
        gallery_id = params.face_galleries.custom_gallery.id
        gallery = state.training.galleries.get(gallery_id)
        if gallery is None or gallery.owner != owner:
            raise BadRequest(
                "Invalid value for field: analysis_parameters.face_galleries.custom_gallery.id "
                "(face gallery not found)"
            )
    callback_url = body.callback.url if body.callback else None
    if callback_url is not None and urlsplit(callback_url).scheme not in ("http", "https"):
        raise BadRequest("Invalid value for field: callback.url (must be an http(s) URL)")
    job_id = state.new_id()
    job = Job(
        job_id=job_id,
        owner=owner,
        request=echo,
        created_at=utc_now(),
        video_url=media.video.url,
        transcript_url=transcript_url,
        customer_media_id=media.customer_media_info.id if media.customer_media_info else None,
        gallery_id=gallery_id,
        callback_url=callback_url,
        email_to_group=body.email_notification.to_group if body.email_notification else None,
        directory=state.data_dir / "jobs" / job_id,
    )
    state.add_job(job)
    return job


def _check_language(state: EmulatorState, language: str | None) -> None:
    accepted = accepted_languages(state.settings.extra_languages)
    if (language or DEFAULT_LANGUAGE) not in accepted:
        raise BadRequest(
            f"Invalid value for field: media.language (unsupported language {language!r}; "
            f"supported: {', '.join(accepted)})"
        )


def _check_media_url(
    state: EmulatorState, owner: str, url: str, field: str, *, uploads: bool
) -> None:
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        if not urlsplit(url).netloc:
            raise BadRequest(f"Invalid value for field: {field} (no host in the URL)")
        return
    if scheme == "s3":
        if state.settings.s3_root is None:
            raise BadRequest(
                f"Invalid value for field: {field} (s3:// URLs need read access to your bucket "
                "agreed with Valossa first; this emulator has no S3 configured, set "
                "VALOSSA_EMULATOR_S3_ROOT)"
            )
        return
    if uploads and url.startswith(UPLOAD_SCHEME):
        upload = state.uploads.get(url.removeprefix(UPLOAD_SCHEME))
        if upload is None or upload.owner != owner or not upload.usable:
            raise BadRequest(f"Invalid value for field: {field} (no finalized upload with this id)")
        return
    allowed = (
        "http://, https://, s3:// or valossaupload://" if uploads else "http://, https://, s3://"
    )
    raise BadRequest(f"Invalid value for field: {field} (the URL must start with {allowed})")


def find_job(state: EmulatorState, owner: str, job_id: object, customer_media_id: object) -> Job:
    """A job of this key by job_id, or the latest one with that customer_media_id."""
    if isinstance(job_id, str) and job_id:
        job = state.jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFound("Job not found")
        return job
    if isinstance(customer_media_id, str) and customer_media_id:
        ids = state.by_customer_id.get((owner, customer_media_id))
        if not ids:
            raise NotFound("Job not found")
        return state.jobs[ids[-1]]
    if job_id is None and customer_media_id is None:
        raise BadRequest("Missing required field: job_id")
    raise BadRequest("Invalid value for field: job_id")


def cancel_job(state: EmulatorState, job: Job) -> None:
    """Cancel a job still waiting; refused (cancel_refusal_code) once analysis has begun."""
    if job.status not in CANCELLABLE:
        shown = shown_status(job, state.config, state.clock_s)
        raise EmulatorError(
            f"Job cannot be canceled in its current state: {shown}",
            status_code=state.config.cancel_refusal_code,
        )
    if job.task is not None:
        job.task.cancel()
    job.status = JobStatus.CANCELED
    job.canceled_at_clock = state.clock_s
    job.ended_at = utc_now()
    job.pinned = False
    state.track(job)
    state.save(job)


async def delete_job(state: EmulatorState, job: Job) -> None:
    """Forget a job and delete its media and results, the uploaded file it used included."""
    if job.task is not None:
        job.task.cancel()
        await asyncio.gather(job.task, return_exceptions=True)
    upload = state.uploads.get(job.video_url.removeprefix(UPLOAD_SCHEME))
    with state.store.batch():
        state.remove_job(job)
        if job.video_url.startswith(UPLOAD_SCHEME) and upload is not None:
            upload.deleted = True
            state.save(upload)
    if upload is not None and job.video_url.startswith(UPLOAD_SCHEME):
        await asyncio.to_thread(upload.path.unlink, True)
    await asyncio.to_thread(shutil.rmtree, job.directory, True)
