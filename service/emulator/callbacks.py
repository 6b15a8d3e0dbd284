"""End-of-job notifications: HTTP POST callbacks (retried once) and recorded emails.

Each record is saved before and after every attempt, so a restarted emulator still sends what
it owed (see lifecycle.resume).
"""

from __future__ import annotations

import asyncio

import httpx

from service.emulator.entities import (
    CallbackAttempt,
    CallbackRecord,
    EmailRecord,
    Job,
    utc_now,
)
from service.emulator.state import EmulatorState


def notify_end(state: EmulatorState, job: Job) -> None:
    """Record the email and start the callback owed for a job that reached an end state."""
    if job.email_to_group is not None:
        title = job.request.get("media", {}).get("title") or job.job_id
        email = EmailRecord(
            record_id=f"email-{len(state.emails) + 1}",
            job_id=job.job_id,
            to_group=job.email_to_group,
            status=str(job.status),
            subject=f"Valossa video analysis {job.status}: {title}",
            sent_at=utc_now(),
        )
        state.emails.append(email)
        state.save(email)
    if job.callback_url is not None:
        record = CallbackRecord(
            record_id=f"callback-{len(state.callbacks) + 1}",
            job_id=job.job_id,
            url=job.callback_url,
            body={"job_id": job.job_id, "status": str(job.status)},
            created_at=utc_now(),
            dropped=state.callback_rng.random() < state.config.callback_drop_rate,
        )
        state.callbacks.append(record)
        state.save(record)
        if not record.dropped:
            state.spawn(deliver(state, record))


async def deliver(state: EmulatorState, record: CallbackRecord) -> None:
    """POST the callback; on a non-200 answer or a timeout, try exactly once more."""
    config = state.config
    if config.callback_delay_s and not record.attempts:
        await asyncio.sleep(config.callback_delay_s)
    while not record.settled:
        if record.attempts:
            await asyncio.sleep(config.callback_retry_delay_s)
        record.delivered = await _post(state.client, record, config.callback_timeout_s)
        state.save(record)


async def _post(client: httpx.AsyncClient, record: CallbackRecord, timeout_s: float) -> bool:
    try:
        response = await client.post(record.url, json=record.body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        record.attempts.append(CallbackAttempt(utc_now(), None, type(exc).__name__))
        return False
    record.attempts.append(CallbackAttempt(utc_now(), response.status_code, None))
    return response.status_code == 200
