"""Following a submitted job: confirm its status with job_status, then store its results.

Valossa is called first, with no row lock held; the outcome is recorded afterwards in a short
transaction that re-checks the claim (leases.lock_claimed).
"""

from __future__ import annotations

import contextlib
import logging
import random
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.models import Analysis
from service.analyses.results import Spool, content_type_for, store_spools
from service.analyses.sources import where
from service.analyses.states import (
    VALOSSA_RUNNING,
    VALOSSA_WAITING,
    AnalysisStatus,
    after_valossa_status,
)
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import Claim, database_now, lock_claimed, release
from service.analyses.steps.outcomes import describe, fail, fail_or_retry, retry_later
from service.analyses.valossa_jobs import CancelAnswer, cancel_at_valossa
from service.valossa import (
    JobStatus,
    ResultType,
    ValossaApiError,
    ValossaAuthError,
    ValossaError,
    ValossaNotFound,
)

log = logging.getLogger(__name__)


def poll_delay(suggested_s: int | None, *, min_s: float, max_s: float) -> float:
    """Valossa's poll_again_after_seconds, clamped to our bounds, with +-10 % jitter."""
    base = float(suggested_s) if suggested_s is not None else min_s * 4
    clamped = min(max_s, max(min_s, base))
    return clamped * random.uniform(0.9, 1.1)


async def check_status(ctx: StepContext, claim: Claim, analysis: Analysis) -> None:
    """Ask Valossa how the job is doing and act on it (a callback's body is never trusted)."""
    assert analysis.job_id is not None
    try:
        status = await ctx.valossa.job_status(job_id=analysis.job_id)
    except ValossaNotFound:
        await fail(ctx, claim, f"Valossa no longer knows job {analysis.job_id}")
        return
    except ValossaError as exc:
        await retry_later(ctx, claim, f"job_status failed: {describe(exc)}")
        return
    cancel: tuple[CancelAnswer, str] | None = None
    if analysis.cancel_requested_at is not None and status.status in VALOSSA_WAITING:
        # The CMS's cancel was not confirmed and the job still waits: ask Valossa again.
        with contextlib.suppress(ValossaError):
            cancel = await cancel_at_valossa(ctx.valossa, analysis.job_id)
    async with ctx.transaction() as session:
        locked = await lock_claimed(session, claim)
        if locked is None or locked.status != AnalysisStatus.SUBMITTED:
            return
        now = await database_now(session)
        changed = status.status != locked.valossa_status
        _record_status(locked, status)
        locked.status_checked_at = now
        target = after_valossa_status(status.status)
        if locked.cancel_requested_at is not None:
            target = _after_cancel_request(ctx, session, locked, status.status, cancel)
        if target is AnalysisStatus.FETCHING_RESULTS:
            ctx.lifecycle.move(session, locked, target, reason="Valossa finished")
            release(locked, now, delay_s=0)
        elif target is AnalysisStatus.FAILED:
            ctx.lifecycle.move(session, locked, target, reason=_failure_reason(status, locked))
        elif target is AnalysisStatus.CANCELED:
            ctx.lifecycle.move(session, locked, target, reason="canceled at Valossa")
        else:
            if status.status not in VALOSSA_RUNNING:
                log.warning(
                    "analysis %s: unknown Valossa status %r; polling again later",
                    locked.id,
                    status.status,
                )
            if changed:
                ctx.lifecycle.note(session, locked, f"Valossa status: {status.status}")
            suggested = _next_poll(ctx, status)
            locked.poll_hint_at = now + timedelta(seconds=suggested)
            if locked.callback_at is not None and locked.callback_at > claim.claimed_at:
                # A callback arrived while we asked: what it announced may postdate our answer.
                release(locked, now, delay_s=0)
            else:
                release(locked, now, delay_s=await ctx.next_check_in(session, suggested))


def _after_cancel_request(
    ctx: StepContext,
    session: AsyncSession,
    analysis: Analysis,
    valossa_status: str,
    cancel: tuple[CancelAnswer, str] | None,
) -> AnalysisStatus | None:
    """Where an analysis whose cancel is pending goes: canceled once Valossa confirms it or the
    job ends short of finishing (any way: Valossa documents no status for a canceled job); on
    as before when Valossa refuses or has begun the analysis (the job runs to its end and its
    results are kept); polled again while it is unclear."""
    target = after_valossa_status(valossa_status)
    if cancel is not None and cancel[0] in (CancelAnswer.CANCELED, CancelAnswer.GONE):
        return AnalysisStatus.CANCELED
    if target is not None:
        return AnalysisStatus.CANCELED if target is not AnalysisStatus.FETCHING_RESULTS else target
    if cancel is not None and cancel[0] is CancelAnswer.REFUSED:
        why = f"Valossa refused the cancel: {cancel[1]}"
    elif valossa_status in VALOSSA_RUNNING - VALOSSA_WAITING:
        why = f"Valossa began the analysis ({valossa_status}) before the cancel took effect"
    else:
        return None  # waiting still, or a status we do not know: ask and look again
    analysis.cancel_requested_at = None
    ctx.lifecycle.note(session, analysis, f"{why}; it runs to its end")
    return None


def _record_status(analysis: Analysis, status: JobStatus) -> None:
    analysis.valossa_status = status.status
    analysis.media_transfer_status = status.media_transfer_status
    analysis.valossa_details = status.details
    analysis.status_checks += 1
    analysis.attempts = 0
    analysis.error = None


def _failure_reason(status: JobStatus, analysis: Analysis) -> str:
    reason = status.details or "Valossa reported an error without details"
    if analysis.source_url and analysis.video_url:
        # Valossa names the file we uploaded for the CMS; the CMS knows it by its source_url.
        reason = reason.replace(analysis.video_url, where(analysis.source_url))
    if status.media_transfer_status == "error":
        reason = f"media transfer failed: {reason}"
    return reason


def _next_poll(ctx: StepContext, status: JobStatus) -> float:
    return poll_delay(
        status.poll_again_after_seconds,
        min_s=ctx.settings.poll_min_interval_s,
        max_s=ctx.settings.poll_max_interval_s,
    )


async def fetch_results(ctx: StepContext, claim: Claim, analysis: Analysis) -> None:
    """Download every requested result type, then store them all and finish in one transaction.

    A type Valossa does not have (no speech in the video, say) is recorded as absent; core is
    required. The downloads go to temporary files first, so no transaction waits on Valossa.
    """
    assert analysis.job_id is not None
    spools: list[Spool] = []
    absent: dict[str, str] = {}
    try:
        # Core first: whether it shows speech decides which transcripts are worth asking for.
        for result_type in sorted(analysis.result_types, key=lambda t: t != "core"):
            if result_type in SPEECH_TYPES and not _may_have_speech(analysis, spools):
                absent[result_type] = NO_SPEECH
                continue
            try:
                spools.append(await _download(ctx, analysis.job_id, result_type))
            except ValossaApiError as exc:
                if isinstance(exc, ValossaAuthError) or result_type == "core":
                    raise
                absent[result_type] = "; ".join(exc.messages) or str(exc)
        async with ctx.transaction() as session:
            locked = await lock_claimed(session, claim)
            if locked is None or locked.status != AnalysisStatus.FETCHING_RESULTS:
                return
            await store_spools(session, locked.id, spools, absent)
            summary = f"stored {', '.join(s.result_type for s in spools) or 'nothing'}"
            if absent:
                summary += f"; Valossa has no {', '.join(absent)}"
            ctx.lifecycle.move(
                session,
                locked,
                AnalysisStatus.FINISHED,
                reason=summary,
                stored=[spool.result_type for spool in spools],
            )
    except ValossaApiError as exc:
        await fail_or_retry(ctx, claim, exc, "job_results")
    except ValossaError as exc:
        await retry_later(ctx, claim, f"job_results failed: {describe(exc)}")
    finally:
        for spool in spools:
            spool.close()


#: The transcripts Valossa makes from the speech it heard.
SPEECH_TYPES = frozenset(t.value for t in ResultType if t.is_text)
NO_SPEECH = "the core metadata shows no speech, so no transcript was asked for"


def _may_have_speech(analysis: Analysis, spools: list[Spool]) -> bool:
    """Whether to ask Valossa for a transcript type: always when the CMS named the types;
    otherwise only when the stored core shows speech (a silent video has none, and a job with
    the CMS's own transcript runs no speech analysis)."""
    if analysis.result_types_explicit:
        return True
    core = next((spool for spool in spools if spool.result_type == "core"), None)
    return core is None or core.shows_speech()


async def _download(ctx: StepContext, job_id: str, result_type: str) -> Spool:
    async with ctx.valossa.job_results(job_id=job_id, type=result_type) as stream:
        spool = Spool(result_type, content_type_for(result_type, stream.content_type))
        try:
            await spool.fill(stream.aiter_bytes())
        except BaseException:
            spool.close()
            raise
    return spool


__all__ = ["check_status", "fetch_results", "poll_delay"]
