"""What clients see of a job: job_status bodies and list_jobs items, as the knobs shape them.

Documented fields only when `undocumented_fields` is off: job_status has status,
media_transfer_status, details and poll_again_after_seconds (the seed's example has no job_id);
list_jobs items have job_id, customer_media_id, job_status and, with show_media_info, the title.
"""

from __future__ import annotations

import math
from typing import Any

from service.emulator.entities import Job, iso
from service.emulator.languages import DEFAULT_LANGUAGE
from service.emulator.lifecycle import poll_hint
from service.emulator.settings import FaultConfig
from service.emulator.state import EmulatorState
from service.emulator.status import JobStatus

#: Emulated seconds a canceled job shows cancel_status before cancel_final_status (if set).
CANCEL_SETTLE_S = 5.0


def shown_status(job: Job, config: FaultConfig, clock_s: float) -> str:
    """The status clients see; a canceled job shows what the cancel knobs say."""
    if job.status is not JobStatus.CANCELED:
        return str(job.status)
    if config.cancel_final_status is not None and _settled(job, clock_s):
        return config.cancel_final_status
    return config.cancel_status


def _settled(job: Job, clock_s: float) -> bool:
    return clock_s - (job.canceled_at_clock or 0.0) >= CANCEL_SETTLE_S


def status_body(state: EmulatorState, job: Job) -> dict[str, Any]:
    """The job_status answer for one job."""
    config = state.config
    status = shown_status(job, config, state.clock_s)
    details = job.details
    if job.status is JobStatus.CANCELED:
        hint = None
        if config.cancel_final_status is not None and not _settled(job, state.clock_s):
            remaining = CANCEL_SETTLE_S - (state.clock_s - (job.canceled_at_clock or 0.0))
            hint = max(1, math.ceil(remaining / config.speed))
        if status == str(JobStatus.ERROR):
            details = "The job was canceled."
    else:
        hint = poll_hint(state, job)
    body: dict[str, Any] = {"job_id": job.job_id} if config.undocumented_fields else {}
    body |= {
        "status": status,
        "media_transfer_status": str(job.transfer),
        "details": details,
        "poll_again_after_seconds": hint,
    }
    return body


def list_jobs_body(
    state: EmulatorState, owner: str, *, with_status: bool, with_media: bool, limit: int
) -> dict[str, Any]:
    """The list_jobs answer: `limit` jobs of the key, newest or oldest first (list_order)."""
    mine = (job for job in state.jobs.values() if job.owner == owner)
    ordered = reversed(list(mine)) if state.config.list_order == "newest" else mine
    listed: list[dict[str, Any]] = []
    for job in ordered:
        listed.append(_listed(state, job, with_status=with_status, with_media=with_media))
        if len(listed) >= limit:
            break
    return {"jobs": listed}


def _listed(
    state: EmulatorState, job: Job, *, with_status: bool, with_media: bool
) -> dict[str, Any]:
    extras = state.config.undocumented_fields
    item: dict[str, Any] = {"job_id": job.job_id}
    if job.customer_media_id is not None:
        item["customer_media_id"] = job.customer_media_id
    if with_status:
        item["job_status"] = {k: v for k, v in status_body(state, job).items() if k != "job_id"}
    if with_media:
        media = job.request.get("media", {})
        info: dict[str, Any] = {"title": media.get("title")}
        if extras:
            info |= {
                "description": media.get("description"),
                "video": {"url": job.video_url},
                "language": media.get("language") or DEFAULT_LANGUAGE,
            }
            item["created_at"] = iso(job.created_at)
        item["media_info"] = info
    return item
