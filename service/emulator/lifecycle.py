"""The job clock: how jobs move from queued to an end state, at the configured speed.

Phase lengths are in emulated seconds; `speed` emulated seconds pass per wall second.
queued (transfer queued -> downloading -> finished) -> on_hold while the key has its maximum of
jobs analysing -> preparing_analysis -> processing -> finished | error.
Every change of a job is saved; the progress inside a phase is saved every CHECKPOINT_S, so a
restarted emulator resumes each job at most that much behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from pathlib import Path

from service.emulator.callbacks import deliver, notify_end
from service.emulator.content import analyse_media
from service.emulator.entities import Job, utc_now
from service.emulator.ingest import IngestError, MediaSources, ingest
from service.emulator.metadata import ResultsInput
from service.emulator.results import write_results
from service.emulator.state import EmulatorState
from service.emulator.status import END_STATES, JobStatus, TransferStatus

logger = logging.getLogger(__name__)

TRANSFER_DELAY_S = 2.0  #: the download starts a little after new_job, as documented
QUEUE_S = 5.0
PREPARE_S = 5.0
PROCESS_BASE_S = 10.0  #: plus one emulated second per second of video
UNKNOWN_DURATION_S = 60.0
WAIT_HINT_S = 5.0  #: hint while waiting on something without a known end (download, slot)
CHECKPOINT_S = 1.0  #: wall seconds between saves of the jobs' progress and the clock
ANALYSING = frozenset({JobStatus.PREPARING_ANALYSIS, JobStatus.PROCESSING})


def tick(state: EmulatorState, wall_s: float) -> None:
    """Advance the clock and every unfinished job by `wall_s` wall seconds."""
    emulated = wall_s * state.config.speed
    state.clock_s += emulated
    for job_id in list(state.unfinished):
        job = state.jobs.get(job_id)
        if job is None or job.pinned or job.busy:
            continue
        job.phase_elapsed += emulated
        _step(state, job)


def checkpoint(state: EmulatorState) -> None:
    """Save the progress of the jobs the clock moves, and the clock, in one transaction."""
    with state.store.batch():
        for job_id in state.unfinished:
            job = state.jobs[job_id]
            if not (job.pinned or job.busy or job.status is JobStatus.ON_HOLD):
                state.save(job)
        state.save_meta()


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
            state.save(job)
            job.task = state.spawn(_transfer(state, job))
        elif job.transfer is TransferStatus.FINISHED and elapsed >= QUEUE_S:
            _enter_analysis(state, job)
    elif job.status is JobStatus.ON_HOLD:
        _enter_analysis(state, job)
    elif job.status is JobStatus.PREPARING_ANALYSIS and elapsed >= PREPARE_S:
        _set_status(state, job, JobStatus.PROCESSING)
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
                _set_status(state, job, JobStatus.ON_HOLD)
            return
    _set_status(state, job, JobStatus.PREPARING_ANALYSIS)


def _set_status(state: EmulatorState, job: Job, status: JobStatus) -> None:
    job.status = status
    job.phase_elapsed = 0.0
    state.save(job)


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
    state.save(job)


async def finish(state: EmulatorState, job: Job, *, may_fail: bool) -> None:
    """Build and store the job's results, then end it as finished (or as an injected failure)."""
    job.busy = True
    try:
        if may_fail and state.job_rng.random() < state.config.job_failure_rate:
            end_job(state, job, JobStatus.ERROR, "Analysis failed due to an internal error.")
            return
        job.results = await asyncio.to_thread(_build, _results_input(state, job), job.directory)
    except Exception:
        logger.exception("building results failed")
        end_job(state, job, JobStatus.ERROR, "Internal error while generating the results.")
        return
    finally:
        job.busy = False
    end_job(state, job, JobStatus.FINISHED, None)


def _results_input(state: EmulatorState, job: Job) -> ResultsInput:
    return ResultsInput(
        job_id=job.job_id,
        request=job.request,
        technical=job.technical,
        transcript=job.transcript,
        gallery_faces=state.training.trained_faces(job.owner, job.gallery_id),
    )


def _build(inp: ResultsInput, directory: Path) -> dict[str, Path]:
    # What can be seen and heard in the media itself; the rest is seeded by its content hash.
    video = directory / "video"
    if inp.technical is not None and video.is_file():
        inp = dataclasses.replace(inp, features=analyse_media(video, inp.technical))
    return write_results(inp, directory / "results")


def end_job(state: EmulatorState, job: Job, status: JobStatus, details: str | None) -> None:
    """Put a job in an end state, save it, and send what is owed."""
    job.status = status
    job.details = details
    job.ended_at = utc_now()
    job.pinned = False
    job.phase_elapsed = 0.0
    if status is JobStatus.CANCELED:
        job.canceled_at_clock = state.clock_s
    state.track(job)
    with state.store.batch():
        state.save(job)
        if status is not JobStatus.CANCELED:  # a canceled job notifies nobody
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
        job.pinned = pin
        _set_status(state, job, status)
        state.track(job)


_TRANSFERRING = frozenset({TransferStatus.QUEUED, TransferStatus.DOWNLOADING})


def resume(state: EmulatorState) -> None:
    """After a restart: redo interrupted downloads and send the callbacks still owed."""
    for job_id in state.unfinished:
        job = state.jobs[job_id]
        if job.transfer is TransferStatus.DOWNLOADING:
            job.transfer = TransferStatus.QUEUED
            job.phase_elapsed = TRANSFER_DELAY_S  # start the download again at the next tick
            state.save(job)
    for record in state.callbacks:
        if not record.settled:
            state.spawn(deliver(state, record))


async def run_clock(state: EmulatorState) -> None:
    """Advance jobs every `tick_s` until cancelled (the app lifespan runs this)."""
    loop = asyncio.get_running_loop()
    last = last_checkpoint = loop.time()
    while True:
        await asyncio.sleep(state.settings.tick_s)
        now = loop.time()
        tick(state, now - last)
        last = now
        if now - last_checkpoint >= CHECKPOINT_S:
            checkpoint(state)
            last_checkpoint = now
