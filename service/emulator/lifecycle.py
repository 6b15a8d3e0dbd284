"""The job clock: how jobs move from queued to an end state, at the configured speed.

Phase lengths are in emulated seconds; `speed` emulated seconds pass per wall second.
queued (transfer queued -> downloading -> finished) -> on_hold while the key has its maximum of
jobs analysing -> preparing_analysis -> processing -> finished | error.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime

from service.emulator.callbacks import notify_end
from service.emulator.ingest import IngestError, MediaSources, ingest
from service.emulator.metadata import ResultsInput
from service.emulator.results import write_results
from service.emulator.state import EmulatorState, Job
from service.emulator.status import END_STATES, JobStatus, TransferStatus

logger = logging.getLogger(__name__)

TRANSFER_DELAY_S = 2.0  #: the download starts a little after new_job, as documented
QUEUE_S = 5.0
PREPARE_S = 5.0
PROCESS_BASE_S = 10.0  #: plus one emulated second per second of video
UNKNOWN_DURATION_S = 60.0
WAIT_HINT_S = 5.0  #: hint while waiting on something without a known end (download, slot)
ANALYSING = frozenset({JobStatus.PREPARING_ANALYSIS, JobStatus.PROCESSING})


def tick(state: EmulatorState, wall_s: float) -> None:
    """Advance every unfinished job by `wall_s` wall seconds."""
    emulated = wall_s * state.config.speed
    for job_id in list(state.unfinished):
        job = state.jobs.get(job_id)
        if job is None or job.pinned or job.busy:
            continue
        job.phase_elapsed += emulated
        _step(state, job)


def poll_hint(state: EmulatorState, job: Job) -> int | None:
    """Suggested wall seconds until the next job_status call; None in end states."""
    if job.status in END_STATES:
        return None
    remaining = _remaining_s(job)
    return max(1, math.ceil(remaining / state.config.speed))


def _remaining_s(job: Job) -> float:
    if job.busy or job.pinned or job.status is JobStatus.ON_HOLD:
        return WAIT_HINT_S
    if job.status is JobStatus.QUEUED:
        limit = TRANSFER_DELAY_S if job.transfer is TransferStatus.QUEUED else QUEUE_S
    elif job.status is JobStatus.PREPARING_ANALYSIS:
        limit = PREPARE_S
    else:
        limit = _processing_s(job)
    return max(limit - job.phase_elapsed, 0.0)


def _processing_s(job: Job) -> float:
    duration = job.technical.duration_s if job.technical else UNKNOWN_DURATION_S
    return PROCESS_BASE_S + duration


def _step(state: EmulatorState, job: Job) -> None:
    elapsed = job.phase_elapsed
    if job.status is JobStatus.QUEUED:
        if job.transfer is TransferStatus.QUEUED and elapsed >= TRANSFER_DELAY_S:
            job.transfer = TransferStatus.DOWNLOADING
            job.busy = True
            job.task = state.spawn(_transfer(state, job))
        elif job.transfer is TransferStatus.FINISHED and elapsed >= QUEUE_S:
            _enter_analysis(state, job)
    elif job.status is JobStatus.ON_HOLD:
        _enter_analysis(state, job)
    elif job.status is JobStatus.PREPARING_ANALYSIS and elapsed >= PREPARE_S:
        _set_status(job, JobStatus.PROCESSING)
    elif job.status is JobStatus.PROCESSING and elapsed >= _processing_s(job):
        job.busy = True
        job.task = state.spawn(finish(state, job, may_fail=True))


def _enter_analysis(state: EmulatorState, job: Job) -> None:
    limit = state.config.max_running_jobs_per_key
    if limit:
        running = sum(
            1
            for other in (state.jobs[i] for i in state.unfinished)
            if other.owner == job.owner and other.status in ANALYSING
        )
        if running >= limit:
            if job.status is not JobStatus.ON_HOLD:
                _set_status(job, JobStatus.ON_HOLD)
            return
    _set_status(job, JobStatus.PREPARING_ANALYSIS)


def _set_status(job: Job, status: JobStatus) -> None:
    job.status = status
    job.phase_elapsed = 0.0


async def _transfer(state: EmulatorState, job: Job) -> None:
    sources = MediaSources(state.client, state.uploads, job.owner, state.settings.s3_root)
    try:
        media = await ingest(sources, job.video_url, job.transcript_url, job.directory)
    except IngestError as exc:
        job.transfer = TransferStatus.ERROR
        end_job(state, job, JobStatus.ERROR, str(exc))
        return
    except Exception:
        logger.exception("media transfer failed unexpectedly")
        job.transfer = TransferStatus.ERROR
        end_job(state, job, JobStatus.ERROR, "Internal error while transferring the media.")
        return
    finally:
        job.busy = False
    job.technical = media.technical
    job.transcript = media.transcript
    job.transfer = TransferStatus.FINISHED


async def finish(state: EmulatorState, job: Job, *, may_fail: bool) -> None:
    """Build and store the job's results, then end it as finished (or as an injected failure)."""
    job.busy = True
    try:
        if may_fail and state.job_rng.random() < state.config.job_failure_rate:
            end_job(state, job, JobStatus.ERROR, "Analysis failed due to an internal error.")
            return
        inp = ResultsInput(
            job_id=job.job_id,
            request=job.request,
            technical=job.technical,
            transcript=job.transcript,
            gallery_faces=state.training.trained_faces(job.owner, job.gallery_id),
        )
        job.results = await asyncio.to_thread(write_results, inp, job.directory / "results")
    except Exception:
        logger.exception("building results failed")
        end_job(state, job, JobStatus.ERROR, "Internal error while generating the results.")
        return
    finally:
        job.busy = False
    end_job(state, job, JobStatus.FINISHED, None)


def end_job(state: EmulatorState, job: Job, status: JobStatus, details: str | None) -> None:
    """Put a job in an end state and send what is owed (canceled jobs notify nobody)."""
    job.status = status
    job.details = details
    job.ended_at = datetime.now(UTC)
    job.pinned = False
    job.phase_elapsed = 0.0
    state.track(job)
    if status is not JobStatus.CANCELED:
        notify_end(state, job)


async def force(
    state: EmulatorState,
    job: Job,
    status: JobStatus,
    *,
    details: str | None,
    transfer: TransferStatus | None,
    pin: bool,
) -> None:
    """Move a job to any state now (admin API); forcing `finished` builds its results first."""
    if job.task is not None and not job.task.done():
        job.task.cancel()
        await asyncio.gather(job.task, return_exceptions=True)
    job.busy = False
    if transfer is not None:
        job.transfer = transfer
    if status is JobStatus.FINISHED:
        if transfer is None:
            job.transfer = TransferStatus.FINISHED
        await finish(state, job, may_fail=False)
    elif status in END_STATES:
        if status is JobStatus.ERROR and transfer is None and job.transfer in _TRANSFERRING:
            job.transfer = TransferStatus.ERROR
        default = "Job forced to error by the emulator admin API."
        end_job(state, job, status, details or (default if status is JobStatus.ERROR else None))
    else:
        job.details = details
        _set_status(job, status)
        job.pinned = pin
        state.track(job)


_TRANSFERRING = frozenset({TransferStatus.QUEUED, TransferStatus.DOWNLOADING})


async def run_clock(state: EmulatorState) -> None:
    """Advance jobs every `tick_s` until cancelled (the app lifespan runs this)."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(state.settings.tick_s)
        now = loop.time()
        tick(state, now - last)
        last = now
