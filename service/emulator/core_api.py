"""Core API: `/core/1.0/<function>` for jobs (uploads live in upload_api)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from service.emulator.deps import StateDep, owner_of
from service.emulator.errors import BadRequest, NotFound
from service.emulator.inputs import json_body, query_bool, query_int, validate
from service.emulator.jobs import cancel_job, create_job, delete_job, find_job
from service.emulator.listing import list_jobs_body, shown_status, status_body
from service.emulator.metadata import RESULT_MEDIA_TYPES, RESULT_TYPES
from service.emulator.schemas import JobRef, NewJobRequest
from service.emulator.status import JobStatus

router = APIRouter(prefix="/core/1.0")


@router.post("/new_job")
async def new_job(request: Request, state: StateDep) -> JSONResponse:
    """Create a video analysis job; it runs later, follow it with job_status."""
    body = await json_body(request)
    owner = owner_of(state, body.get("api_key"))
    parsed = validate(NewJobRequest, body)
    echo = {key: value for key, value in body.items() if key != "api_key"}
    job = create_job(state, owner, parsed, echo)
    return JSONResponse({"job_id": job.job_id})


@router.get("/job_status")
async def job_status(
    state: StateDep,
    api_key: str | None = None,
    job_id: str | None = None,
    customer_media_id: str | None = None,
) -> JSONResponse:
    """The status of one job, by job_id or customer_media_id."""
    owner = owner_of(state, api_key)
    job = find_job(state, owner, job_id, customer_media_id)
    return JSONResponse(status_body(state, job))


@router.get("/job_results", response_model=None)
async def job_results(
    state: StateDep,
    api_key: str | None = None,
    job_id: str | None = None,
    customer_media_id: str | None = None,
    type: str = "core",
) -> FileResponse:
    """Results of a finished job, streamed as stored; `type` defaults to core."""
    owner = owner_of(state, api_key)
    job = find_job(state, owner, job_id, customer_media_id)
    if type not in RESULT_TYPES:
        raise BadRequest(f"Invalid value for parameter: type (one of {', '.join(RESULT_TYPES)})")
    if job.status is not JobStatus.FINISHED:
        shown = shown_status(job, state.config, state.clock_s)
        raise BadRequest(f"Job results are not available: the job status is {shown}")
    path = job.results.get(type)
    if path is None:
        raise NotFound(f"Results of type {type} are not available for this job")
    return FileResponse(path, media_type=RESULT_MEDIA_TYPES[type])


@router.get("/list_jobs")
async def list_jobs(
    state: StateDep,
    api_key: str | None = None,
    show_status: str | None = None,
    show_media_info: str | None = None,
    n_jobs: str | None = None,
) -> JSONResponse:
    """The key's jobs (n_jobs: 1..10000, default 200), optionally with status and media info."""
    owner = owner_of(state, api_key)
    with_status = query_bool(show_status, "show_status")
    with_media = query_bool(show_media_info, "show_media_info")
    limit = query_int(n_jobs, "n_jobs", default=200, low=1, high=10000)
    return JSONResponse(
        list_jobs_body(state, owner, with_status=with_status, with_media=with_media, limit=limit)
    )


@router.post("/cancel_job")
async def cancel(request: Request, state: StateDep) -> JSONResponse:
    """Cancel a job that is still waiting (queued or on_hold)."""
    body = await json_body(request)
    owner = owner_of(state, body.get("api_key"))
    ref = validate(JobRef, body)
    job = find_job(state, owner, ref.job_id, ref.customer_media_id)
    cancel_job(state, job)
    return JSONResponse({"job_status": shown_status(job, state.config, state.clock_s)})


@router.post("/delete_job")
async def delete(request: Request, state: StateDep) -> JSONResponse:
    """Delete a job and its media and results; later calls about it get 404."""
    body = await json_body(request)
    owner = owner_of(state, body.get("api_key"))
    ref = validate(JobRef, body)
    job = find_job(state, owner, ref.job_id, ref.customer_media_id)
    await delete_job(state, job)
    return JSONResponse({})
