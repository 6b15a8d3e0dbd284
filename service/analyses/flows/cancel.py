"""Cancel an analysis on behalf of the CMS: locally while Valossa has no job, else at Valossa.

Valossa is asked first, with no row lock held; the answer is recorded afterwards under a short
lock. Valossa documents only `{"job_status": "canceled"}` as cancel_job's answer, so anything
else it says is handled safely: a cancel that Valossa may have accepted is recorded as
requested, and the worker follows the job to its end (and asks again while it still waits).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.flows.analyses import api_lifecycle, find_analysis, view_of
from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis
from service.analyses.schemas import AnalysisView
from service.analyses.states import CANCELLABLE_LOCALLY, TERMINAL, AnalysisStatus
from service.analyses.valossa_jobs import CancelAnswer, cancel_at_valossa
from service.errors import Conflict, Unavailable
from service.settings import Settings
from service.valossa import ValossaClient, ValossaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Canceled:
    """The analysis after a cancel, and whether the cancel is complete (200) or pending (202)."""

    view: AnalysisView
    complete: bool


async def cancel_analysis(
    session: AsyncSession, settings: Settings, valossa: ValossaClient, analysis_id: uuid.UUID
) -> Canceled:
    """Cancel the analysis, or raise a 409/503 problem that says why it cannot be now."""
    analysis = await find_analysis(session, analysis_id)
    if analysis.status is AnalysisStatus.SUBMITTED and analysis.job_id is not None:
        answer, words = await _ask_valossa(valossa, analysis.job_id)
        return await _record_answer(session, settings, analysis_id, answer, words)
    locked = await find_analysis(session, analysis_id, for_update=True)
    status = locked.status
    if status in CANCELLABLE_LOCALLY:
        api_lifecycle(settings).move(
            session, locked, AnalysisStatus.CANCELED, reason="canceled by the CMS"
        )
        return Canceled(await _fresh_view(session, locked), complete=True)
    if status in (AnalysisStatus.SUBMITTING, AnalysisStatus.SUBMITTED):
        raise Conflict(
            "the analysis is being submitted to Valossa; retry the cancel in a few seconds",
            analysis_status=status,
        )
    if status is AnalysisStatus.FETCHING_RESULTS:
        raise Conflict(
            "Valossa has finished this analysis and its results are being stored; "
            "it can no longer be canceled",
            analysis_status=status,
        )
    assert status in TERMINAL
    raise Conflict(f"the analysis has already ended ({status})", analysis_status=status)


async def _ask_valossa(valossa: ValossaClient, job_id: str) -> tuple[CancelAnswer, str]:
    try:
        return await cancel_at_valossa(valossa, job_id)
    except ValossaError as exc:
        log.warning("cancel: Valossa unavailable (%s)", type(exc).__name__)
        raise Unavailable(
            "Valossa could not be reached to cancel the job; nothing was changed, retry later"
        ) from None


async def _record_answer(
    session: AsyncSession,
    settings: Settings,
    analysis_id: uuid.UUID,
    answer: CancelAnswer,
    words: str,
) -> Canceled:
    locked = await find_analysis(session, analysis_id, for_update=True)
    if locked.status is not AnalysisStatus.SUBMITTED:
        # The worker moved it on while we asked (it ended, say): that is the outcome.
        return Canceled(await view_of(session, locked), complete=locked.status in TERMINAL)
    lifecycle = api_lifecycle(settings)
    if answer is CancelAnswer.REFUSED:
        raise Conflict(
            f"Valossa refused to cancel job {locked.job_id}: {words}",
            analysis_status=locked.status,
            valossa_status=locked.valossa_status,
        )
    if answer is CancelAnswer.REQUESTED:
        locked.cancel_requested_at = utcnow()
        locked.next_attempt_at = func.now()  # checked (and asked again) at once
        lifecycle.note(session, locked, f"cancel requested at Valossa: {words}")
        return Canceled(await _fresh_view(session, locked), complete=False)
    reason = "canceled by the CMS at Valossa"
    if answer is CancelAnswer.GONE:
        log.warning("cancel: Valossa has no job %s any more", locked.job_id)
        reason = "canceled by the CMS (Valossa no longer had the job)"
    else:
        locked.valossa_status = "canceled"
    lifecycle.move(session, locked, AnalysisStatus.CANCELED, reason=reason)
    return Canceled(await _fresh_view(session, locked), complete=True)


async def _fresh_view(session: AsyncSession, analysis: Analysis) -> AnalysisView:
    await session.flush()
    # updated_at is set by the database on flush; load it without lazy I/O.
    await session.refresh(analysis, ["updated_at"])
    return await view_of(session, analysis)
