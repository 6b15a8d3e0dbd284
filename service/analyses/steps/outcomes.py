"""How a step ends when it cannot move the analysis forward: retry later, or fail for good."""

from __future__ import annotations

import logging
import random

from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import Claim, database_now, lock_claimed, release
from service.valossa import ValossaApiError, ValossaAuthError

log = logging.getLogger(__name__)

#: 2**62 seconds is already far beyond any cap; a larger exponent would overflow a float.
_MAX_EXPONENT = 62


def backoff_delay(attempts: int, *, cap_s: float, base_s: float = 1.0) -> float:
    """Exponential backoff with jitter after `attempts` failures in a row, at most `cap_s`."""
    exponent = min(max(0, attempts - 1), _MAX_EXPONENT)
    ceiling = min(cap_s, base_s * 2.0**exponent)
    return ceiling * (0.5 + random.random() / 2)


async def retry_later(
    ctx: StepContext, claim: Claim, reason: str, *, min_delay_s: float = 0.0
) -> None:
    """A transient failure: back off exponentially (per analysis) and try again."""
    async with ctx.transaction() as session:
        analysis = await lock_claimed(session, claim)
        if analysis is None:
            return
        analysis.attempts += 1
        wait = max(min_delay_s, backoff_delay(analysis.attempts, cap_s=ctx.settings.max_backoff_s))
        analysis.error = reason
        release(analysis, await database_now(session), delay_s=wait)
        if analysis.attempts in (1, 5) or analysis.attempts % 20 == 0:
            ctx.lifecycle.note(session, analysis, f"retrying in {wait:.1f}s: {reason}")
        attempts = analysis.attempts
    log.warning("analysis %s: %s; retry #%d", claim.analysis_id, reason, attempts)


async def fail(ctx: StepContext, claim: Claim, reason: str) -> None:
    """A permanent failure: the analysis ends as failed with `reason`."""
    async with ctx.transaction() as session:
        analysis = await lock_claimed(session, claim)
        if analysis is None:
            return
        ctx.lifecycle.move(session, analysis, AnalysisStatus.FAILED, reason=reason)


async def fail_or_retry(ctx: StepContext, claim: Claim, exc: ValossaApiError, what: str) -> None:
    """Valossa refused a call. A refused API key is the operator's to fix (rotate the key):
    retry. Any other refusal (bad URL, unknown gallery...) will not change: fail."""
    messages = "; ".join(exc.messages) or str(exc)
    if isinstance(exc, ValossaAuthError):
        await retry_later(ctx, claim, f"{what}: Valossa refused the API key ({messages})")
    else:
        await fail(ctx, claim, f"Valossa refused {what}: {messages}")


def describe(exc: BaseException) -> str:
    """A short readable description of an exception (its message, or its type)."""
    return str(exc) or type(exc).__name__
