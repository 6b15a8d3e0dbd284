"""Emulator-only endpoints under `/_emulator/`: config, reset, jobs, force, callbacks, stats.

They never see fault injection and never show an API key (keys appear as fingerprints).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError

from service.emulator.deps import StateDep
from service.emulator.entities import CallbackRecord, iso
from service.emulator.errors import BadRequest, NotFound
from service.emulator.inputs import json_body, validate
from service.emulator.lifecycle import force
from service.emulator.status import JobStatus, TransferStatus

router = APIRouter(prefix="/_emulator", tags=["emulator admin"])


class ForceRequest(BaseModel):
    """Where to put a job; non-end states are held there unless `pin` is false."""

    status: JobStatus
    details: str | None = None
    media_transfer_status: TransferStatus | None = None
    pin: bool = True


@router.get("/config")
async def get_config(state: StateDep) -> dict[str, Any]:
    """The current fault settings."""
    return state.config.model_dump()


@router.patch("/config")
async def patch_config(request: Request, state: StateDep) -> dict[str, Any]:
    """Change any fault settings now; changing `seed` restarts the random streams."""
    changes = await json_body(request)
    try:
        updated = state.config.model_validate(state.config.model_dump() | changes)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        raise BadRequest(f"Invalid value for field: {path} ({error['msg']})") from None
    state.config = updated
    if "seed" in changes:
        state.reseed()
    return state.config.model_dump()


@router.post("/reset")
async def reset(state: StateDep) -> dict[str, Any]:
    """Forget all jobs, uploads, training data, callbacks and stats; restore start-up config."""
    await state.reset()
    return {}


@router.get("/jobs")
async def list_all_jobs(state: StateDep) -> dict[str, Any]:
    """Every job of every key, oldest first."""
    return {
        "jobs": [
            {
                "job_id": job.job_id,
                "api_key_fingerprint": job.owner,
                "customer_media_id": job.customer_media_id,
                "status": job.status,
                "media_transfer_status": job.transfer,
                "details": job.details,
                "created_at": iso(job.created_at),
                "ended_at": iso(job.ended_at) if job.ended_at else None,
                "pinned": job.pinned,
                "result_types": sorted(job.results),
            }
            for job in state.jobs.values()
        ]
    }


@router.post("/jobs/{job_id}/force")
async def force_job(job_id: str, request: Request, state: StateDep) -> dict[str, Any]:
    """Move a job to a state now; `finished` builds results, end states send callbacks."""
    body = validate(ForceRequest, await json_body(request))
    job = state.jobs.get(job_id)
    if job is None:
        raise NotFound("Job not found")
    await force(
        state,
        job,
        body.status,
        details=body.details,
        transfer=body.media_transfer_status,
        pin=body.pin,
    )
    return {"job_id": job.job_id, "status": job.status, "media_transfer_status": job.transfer}


def _callback_json(record: CallbackRecord) -> dict[str, Any]:
    return {
        "job_id": record.job_id,
        "url": record.url,
        "body": record.body,
        "created_at": iso(record.created_at),
        "dropped": record.dropped,
        "delivered": record.delivered,
        "attempts": [
            {"at": iso(a.at), "status_code": a.status_code, "error": a.error}
            for a in record.attempts
        ],
    }


@router.get("/callbacks")
async def list_callbacks(state: StateDep) -> dict[str, Any]:
    """Every callback owed so far, with each attempt's answer code or error."""
    return {"callbacks": [_callback_json(record) for record in state.callbacks]}


@router.get("/emails")
async def list_emails(state: StateDep) -> dict[str, Any]:
    """The email notifications that would have been sent."""
    return {
        "emails": [
            {
                "job_id": e.job_id,
                "to_group": e.to_group,
                "status": e.status,
                "subject": e.subject,
                "sent_at": iso(e.sent_at),
            }
            for e in state.emails
        ]
    }


@router.get("/stats")
async def stats(state: StateDep) -> dict[str, Any]:
    """Jobs created per key, unfinished jobs now, their high-water mark, the job clock, and
    the calls received per API function since the emulator started."""
    owners = set(state.stats.jobs_created)
    return {
        "jobs_created": sum(state.stats.jobs_created.values()),
        "jobs_created_by_api_key": dict(state.stats.jobs_created),
        "unfinished": len(state.unfinished),
        "unfinished_by_api_key": {o: state.unfinished_count(o) for o in sorted(owners)},
        "max_unfinished": state.stats.max_unfinished,
        "max_unfinished_by_api_key": dict(state.stats.max_unfinished_by_key),
        "clock_s": round(state.clock_s, 3),
        "calls": dict(state.stats.calls),
    }
