"""End-of-job notifications: HTTP POST callbacks (retried once) and recorded emails."""

from __future__ import annotations

import asyncio

import httpx

from service.emulator.state import (
    CallbackAttempt,
    CallbackRecord,
    EmailRecord,
    EmulatorState,
    Job,
    utc_now,
)


def notify_end(state: EmulatorState, job: Job) -> None:
    """Record the email and start the callback owed for a job that reached an end state."""
    if job.email_to_group is not None:
        title = job.request.get("media", {}).get("title") or job.job_id
        state.emails.append(
            EmailRecord(
                job_id=job.job_id,
                to_group=job.email_to_group,
                status=str(job.status),
                subject=f"Valossa video analysis {job.status}: {title}",
                sent_at=utc_now(),
            )
        )
    if job.callback_url is not None:
        record = CallbackRecord(
            job_id=job.job_id,
            url=job.callback_url,
            body={"job_id": job.job_id, "status": str(job.status)},
            created_at=utc_now(),
        )
        state.callbacks.append(record)
        state.spawn(deliver(state, record))


async def deliver(state: EmulatorState, record: CallbackRecord) -> None:
    """POST the callback; on a non-200 answer or a timeout, try exactly once more."""
    config = state.config
    if state.callback_rng.random() < config.callback_drop_rate:
        record.dropped = True
        return
    if config.callback_delay_s:
        await asyncio.sleep(config.callback_delay_s)
    for attempt in range(2):
        if attempt:
            await asyncio.sleep(config.callback_retry_delay_s)
        if await _post(state.client, record, config.callback_timeout_s):
            record.delivered = True
            return


async def _post(client: httpx.AsyncClient, record: CallbackRecord, timeout_s: float) -> bool:
    try:
        response = await client.post(record.url, json=record.body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        record.attempts.append(CallbackAttempt(utc_now(), None, type(exc).__name__))
        return False
    record.attempts.append(CallbackAttempt(utc_now(), response.status_code, None))
    return response.status_code == 200
