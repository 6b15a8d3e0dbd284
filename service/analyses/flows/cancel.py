"""Cancel an analysis on behalf of the CMS: locally while Valossa has no job, else at Valossa."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import queries
from service.analyses.flows.analyses import api_lifecycle, view_of
from service.analyses.models import Analysis
from service.analyses.schemas import AnalysisView
from service.analyses.states import TERMINAL, AnalysisStatus
from service.errors import Conflict, NotFound, Unavailable
from service.settings import Settings
from service.valossa import ValossaBadRequest, ValossaClient, ValossaError, ValossaNotFound

log = logging.getLogger(__name__)

_LOCAL = frozenset({AnalysisStatus.PENDING, AnalysisStatus.UPLOADING})


async def cancel_analysis(
    session: AsyncSession, settings: Settings, valossa: ValossaClient, analysis_id: uuid.UUID
) -> AnalysisView:
    """Cancel the analysis, or raise a 409/503 problem that says why it cannot be now."""
    # The row lock keeps the worker from moving the analysis while we decide.
    analysis = await queries.get_analysis(session, analysis_id, for_update=True)
    if analysis is None:
        raise NotFound(f"no analysis with id {analysis_id}")
    status = AnalysisStatus(analysis.status)
    lifecycle = api_lifecycle(settings)
    if status in _LOCAL:
        lifecycle.move(session, analysis, AnalysisStatus.CANCELED, reason="canceled by the CMS")
    elif status is AnalysisStatus.SUBMITTING or (
        status is AnalysisStatus.SUBMITTED and analysis.job_id is None
    ):
        raise Conflict(
            "the analysis is being submitted to Valossa; retry the cancel in a few seconds",
            analysis_status=status,
        )
    elif status is AnalysisStatus.SUBMITTED:
        await _cancel_at_valossa(valossa, analysis)
        lifecycle.move(
            session, analysis, AnalysisStatus.CANCELED, reason="canceled by the CMS at Valossa"
        )
    elif status is AnalysisStatus.FETCHING_RESULTS:
        raise Conflict(
            "Valossa has finished this analysis and its results are being stored; "
            "it can no longer be canceled",
            analysis_status=status,
        )
    else:
        assert status in TERMINAL
        raise Conflict(f"the analysis has already ended ({status})", analysis_status=status)
    await session.flush()
    # updated_at is set by the database on flush; load it without lazy I/O.
    await session.refresh(analysis, ["updated_at"])
    return await view_of(session, analysis)


async def _cancel_at_valossa(valossa: ValossaClient, analysis: Analysis) -> None:
    assert analysis.job_id is not None
    try:
        reply = await valossa.cancel_job(job_id=analysis.job_id)
    except ValossaBadRequest as exc:
        message = "; ".join(exc.messages) or str(exc)
        raise Conflict(
            f"Valossa refused to cancel job {analysis.job_id}: {message}",
            analysis_status=analysis.status,
            valossa_status=analysis.valossa_status,
        ) from None
    except ValossaNotFound:
        # Valossa no longer has the job: nothing runs there, so canceling ours is all there is.
        log.warning("cancel: Valossa has no job %s any more", analysis.job_id)
        return
    except ValossaError as exc:
        log.warning("cancel: Valossa unavailable (%s)", type(exc).__name__)
        raise Unavailable(
            "Valossa could not be reached to cancel the job; nothing was changed, retry later"
        ) from None
    analysis.valossa_status = reply.job_status
