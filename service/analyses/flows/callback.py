"""Valossa's callback, taken as a hint: it makes the analysis due for a status check now.

The callback body is unauthenticated; only the token in the URL (an HMAC of the analysis id)
says which analysis it is about, and job_status (asked by the worker) decides what happened.
Replaying a callback costs nothing: one that would change nothing is only acknowledged, and
callbacks cause at most MAX_WAKEUPS status checks of one analysis.
"""

from __future__ import annotations

import logging
import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import queries
from service.analyses.lifecycle import Lifecycle
from service.analyses.steps.leases import notify_due
from service.analyses.tokens import CallbackTokens
from service.errors import NotFound

log = logging.getLogger(__name__)

CALLBACK_ACTOR = "callback"
#: Valossa sends a callback and retries it once; more than this is not Valossa.
MAX_WAKEUPS = 10
_lifecycle = Lifecycle(actor=CALLBACK_ACTOR, notify_cms=False)
_STATUS = re.compile(rb'"status"\s*:\s*"([^"\\]{1,64})"')


def analysis_of(tokens: CallbackTokens, token: str) -> uuid.UUID:
    """The analysis a callback token was issued for, or a 404 problem (checked before the body
    is read: an unauthenticated caller must not make us read anything)."""
    analysis_id = tokens.verify(token)
    if analysis_id is None:
        raise NotFound("unknown callback")
    return analysis_id


async def receive_callback(session: AsyncSession, analysis_id: uuid.UUID, body: bytes) -> None:
    """Make the analysis due now (if it waits on Valossa and that changes anything) and wake
    the workers; a database failure is a 503, and Valossa's retry comes back later."""
    analysis = await queries.record_callback(session, analysis_id, max_wakeups=MAX_WAKEUPS)
    if analysis is None:
        if await queries.note_late_callback(session, analysis_id):
            log.info("callback for analysis %s arrived after its check", analysis_id)
            return
        if not await queries.exists(session, analysis_id):
            raise NotFound("unknown callback")
        log.info("callback for analysis %s: nothing to do", analysis_id)
        return
    hint = status_hint(body)
    _lifecycle.note(session, analysis, f"callback received (status hint: {hint})")
    await notify_due(session)
    log.info("callback for analysis %s (status hint: %s): due now", analysis_id, hint)


def status_hint(body: bytes) -> str:
    """The `status` a callback body claims, printable and short; "unknown" if there is none.

    Only a flat `{"status": "..."}` is looked at, without a JSON parser: the body may be
    anything an attacker sends, and it is a hint for the event log, nothing more.
    """
    match = _STATUS.search(body[:4096])
    if match is None:
        return "unknown"
    cleaned = "".join(ch for ch in match.group(1).decode("utf-8", "replace") if ch.isprintable())
    return cleaned[:64] or "unknown"
