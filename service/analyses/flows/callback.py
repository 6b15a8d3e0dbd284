"""Valossa's callback, taken as a hint: it makes the analysis due for a status check now.

The callback body is unauthenticated; only the token in the URL (an HMAC of the analysis id)
says which analysis it is about, and job_status (asked by the worker) decides what happened.
"""

from __future__ import annotations

import json
import logging
import uuid

from psycopg.errors import LockNotAvailable
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


def analysis_of(tokens: CallbackTokens, token: str) -> uuid.UUID:
    """The analysis a callback token was issued for, or a 404 problem (checked before the body
    is read: an unauthenticated caller must not make us read anything)."""
    analysis_id = tokens.verify(token)
    if analysis_id is None:
        raise NotFound("unknown callback")
    return analysis_id


async def receive_callback(session: AsyncSession, analysis_id: uuid.UUID, body: bytes) -> None:
    """Make the analysis due now (if it waits on Valossa) and wake the workers."""
    hint = status_hint(body)
    try:
        async with session.begin_nested():
            analysis = await queries.make_due_if_submitted(session, analysis_id)
    except OperationalError as exc:
        if not isinstance(exc.orig, LockNotAvailable):
            raise  # the database itself failed: a 503, and Valossa's retry comes back later
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
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        return "unknown"
    status = document.get("status") if isinstance(document, dict) else None
    if not isinstance(status, str) or not status:
        return "unknown"
    cleaned = "".join(ch for ch in status[:64] if ch.isprintable())
    return cleaned or "unknown"
