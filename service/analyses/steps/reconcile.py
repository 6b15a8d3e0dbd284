"""Following a submitted job: confirm its status with job_status, then store its results."""

from __future__ import annotations

import logging

from service.analyses.lifecycle import poll_delay
from service.analyses.models import Analysis
from service.analyses.results import content_type_for, record_absent, store_result
from service.analyses.states import (
    VALOSSA_CANCELED,
    VALOSSA_ERROR,
    VALOSSA_FINISHED,
    VALOSSA_KNOWN_RUNNING,
    AnalysisStatus,
)
from service.analyses.steps.context import Step
from service.analyses.steps.leases import lock_claimed
from service.search.indexing import index_analysis
from service.valossa import ValossaApiError, ValossaAuthError, ValossaError, ValossaNotFound

log = logging.getLogger(__name__)


async def check_status(step: Step, analysis: Analysis) -> None:
    """Ask Valossa how the job is doing and act on it (the callback body is never trusted)."""
    assert analysis.job_id is not None
    try:
        status = await step.valossa.job_status(job_id=analysis.job_id)
    except ValossaNotFound:
        await step.fail(analysis.id, f"Valossa no longer knows job {analysis.job_id}")
        return
    except ValossaError as exc:
        await step.retry_later(analysis.id, f"job_status failed: {exc}")
        return
    async with step.transaction() as session:
        locked = await lock_claimed(session, analysis.id, step.worker)
        if locked is None or locked.status != AnalysisStatus.SUBMITTED:
            return
        changed = status.status != locked.valossa_status
        locked.valossa_status = status.status
        locked.media_transfer_status = status.media_transfer_status
        locked.valossa_details = status.details
        locked.status_checks += 1
        locked.attempts = 0
        locked.error = None
        if status.status == VALOSSA_FINISHED:
            step.lifecycle.move(
                session, locked, AnalysisStatus.FETCHING_RESULTS, reason="Valossa finished"
            )
        elif status.status == VALOSSA_ERROR:
            reason = status.details or "Valossa reported an error without details"
            if status.media_transfer_status == "error":
                reason = f"media transfer failed: {reason}"
            step.lifecycle.move(session, locked, AnalysisStatus.FAILED, reason=reason)
        elif status.status == VALOSSA_CANCELED:
            step.lifecycle.move(
                session, locked, AnalysisStatus.CANCELED, reason="canceled at Valossa"
            )
        else:
            if status.status not in VALOSSA_KNOWN_RUNNING:
                log.warning(
                    "analysis %s: unknown Valossa status %r; polling again later",
                    locked.id,
                    status.status,
                )
            if changed:
                step.lifecycle.note(session, locked, f"Valossa status: {status.status}")
            # A callback during this check moved next_attempt_at from our lease end to now.
            if locked.next_attempt_at is not None and locked.next_attempt_at <= step.now():
                step.release(locked, delay_s=0)
                return
            wait = poll_delay(
                status.poll_again_after_seconds,
                min_s=step.settings.poll_min_interval_s,
                max_s=step.settings.poll_max_interval_s,
            )
            step.release(locked, delay_s=wait)
            return
        analysis = locked
    if analysis.status == AnalysisStatus.FETCHING_RESULTS:
        await fetch_results(step, analysis)


async def fetch_results(step: Step, analysis: Analysis) -> None:
    """Store every requested result type and finish the analysis, all in one transaction."""
    assert analysis.job_id is not None
    try:
        async with step.transaction() as session:
            locked = await lock_claimed(session, analysis.id, step.worker)
            if locked is None or locked.status != AnalysisStatus.FETCHING_RESULTS:
                return
            stored, absent = [], []
            for result_type in locked.result_types:
                try:
                    async with step.valossa.job_results(
                        job_id=analysis.job_id, type=result_type
                    ) as stream:
                        await store_result(
                            session,
                            locked.id,
                            result_type,
                            stream.aiter_bytes(),
                            content_type=content_type_for(result_type, stream.content_type),
                        )
                    stored.append(result_type)
                except ValossaApiError as exc:
                    if isinstance(exc, ValossaAuthError) or result_type == "core":
                        raise
                    record_absent(session, locked.id, result_type, "; ".join(exc.messages))
                    absent.append(result_type)
            summary = f"stored {', '.join(stored) or 'nothing'}"
            if absent:
                summary += f"; Valossa has no {', '.join(absent)}"
            step.lifecycle.move(session, locked, AnalysisStatus.FINISHED, reason=summary)
    except ValossaApiError as exc:
        await step.fail_or_retry(analysis.id, exc, "job_results")
        return
    except ValossaError as exc:
        await step.retry_later(analysis.id, f"job_results failed: {exc}")
        return
    # Search index hook (service/search): after the finishing commit; logs and queues a failure
    # for the sweep, never fails the analysis.
    await index_analysis(step.resources.sessionmaker, analysis.id)
