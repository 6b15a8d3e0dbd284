"""Core API chunked upload: initialize_file_upload, send_file_chunk, finalize_file_upload."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.emulator.deps import StateDep, owner_of
from service.emulator.inputs import form_body, form_file, form_int, form_text
from service.emulator.uploads import (
    finalize_upload,
    find_upload,
    initialize_upload,
    store_chunk,
)

router = APIRouter(prefix="/core/1.0")


@router.post("/initialize_file_upload")
async def initialize_file_upload(request: Request, state: StateDep) -> JSONResponse:
    """Start a chunked upload (multipart: api_key, file_size_bytes); answers the chunk size."""
    form = await form_body(request)
    owner = owner_of(state, form.get("api_key"))
    upload = initialize_upload(state, owner, form_int(form, "file_size_bytes"))
    return JSONResponse({"upload_id": upload.upload_id, "file_chunk_size_bytes": upload.chunk_size})


@router.post("/send_file_chunk")
async def send_file_chunk(request: Request, state: StateDep) -> JSONResponse:
    """Store one chunk (multipart: api_key, upload_id, chunk_index, file_data)."""
    form = await form_body(request)
    try:
        owner = owner_of(state, form.get("api_key"))
        upload = find_upload(state, owner, form_text(form, "upload_id"))
        index = form_int(form, "chunk_index")
        data = form_file(form, "file_data")
        size = data.size if data.size is not None else len(await data.read())
        await store_chunk(state, upload, index, data.file, size)
    finally:
        await form.close()
    return JSONResponse({})


@router.post("/finalize_file_upload")
async def finalize_file_upload(request: Request, state: StateDep) -> JSONResponse:
    """Finish an upload whose chunks all arrived; answers its valossaupload:// URL."""
    form = await form_body(request)
    owner = owner_of(state, form.get("api_key"))
    upload = find_upload(state, owner, form_text(form, "upload_id"))
    return JSONResponse({"uploaded_file_url": finalize_upload(state, upload)})
