"""Valossa's callback, taken as a hint: it makes the analysis due for a status check now.

The callback body is unauthenticated; only the token in the URL (an HMAC of the analysis id)
says which analysis it is about, and job_status (asked by the worker) decides what happened.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses import queries
from service.analyses.lifecycle import Lifecycle
from service.analyses.steps.leases import notify_due
from service.analyses.tokens import CallbackTokens
from service.errors import NotFound

log = logging.getLogger(__name__)

CALLBACK_ACTOR = "callback"
_lifecycle = Lifecycle(actor=CALLBACK_ACTOR, notify_cms=False)


async def receive_callback(
    session: AsyncSession, tokens: CallbackTokens, token: str, body: bytes
) -> None:
    """Make the token's analysis due now (if it waits on Valossa) and wake the workers."""
    analysis_id = tokens.verify(token)
    if analysis_id is None:
        raise NotFound("unknown callback")
    hint = status_hint(body)
    try:
        async with session.begin_nested():
            analysis = await queries.make_due_if_submitted(session, analysis_id)
    except OperationalError:
        # A worker holds the row (it is storing results, say): it is being looked at already.
        log.info("callback for analysis %s: row busy, waking the workers only", analysis_id)
        await notify_due(session)
        return
    if analysis is None:
        if not await queries.exists(session, analysis_id):
            raise NotFound("unknown callback")
        log.info("callback for analysis %s ignored: not waiting on Valossa", analysis_id)
        return
    _lifecycle.note(session, analysis, f"callback received (status hint: {hint})")
    await notify_due(session)
    log.info("callback for analysis %s (status hint: %s): due now", analysis_id, hint)


def status_hint(body: bytes) -> str:
    """The `status` a callback body claims, printable and short; "unknown" if there is none."""
    try:
        document = json.loads(body)
    except ValueError:
        return "unknown"
    status = document.get("status") if isinstance(document, dict) else None
    if not isinstance(status, str) or not status:
        return "unknown"
    cleaned = "".join(ch for ch in status[:64] if ch.isprintable())
    return cleaned or "unknown"
