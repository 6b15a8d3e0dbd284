"""`/v1/uploads`: send a file through the service, in chunks, straight into Valossa."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from starlette.requests import ClientDisconnect

from service.api.auth import CmsTokenDep
from service.api.deps import ResourcesDep, SessionDep
from service.api.limits import RouteLimit
from service.uploads import flows
from service.uploads.chunks import ChunkInterrupted, receive_chunk
from service.uploads.flows import MAX_CHUNK_BYTES
from service.uploads.schemas import ChunkReceipt, UploadCreate, UploadView

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

#: Chunk bodies pass through in pieces, so their route alone takes chunk-sized bodies; without
#: a Content-Length it would have to be buffered first, so one is required.
#: How long one chunk may take to arrive (and to be passed on to Valossa).
CHUNK_TIMEOUT_S = 900.0

CHUNK_ROUTE_LIMIT = RouteLimit(
    re.compile(r"/v1/uploads/[^/]+/chunks/[^/]+"),
    MAX_CHUNK_BYTES,
    # A chunk travels on to Valossa as it arrives: give a slow link the time it needs.
    timeout_s=CHUNK_TIMEOUT_S,
    length_required=True,
)

_PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid bearer token"},
    422: {"description": "Invalid request, or Valossa refused it (`valossa_messages`)"},
    503: {"description": "Valossa could not be reached; retry"},
}
_NOT_FOUND: dict[int | str, dict[str, str]] = {
    404: {"description": "Unknown upload, or `reason`: `expired` (abandoned), `gone_at_valossa`"}
}
_BINARY = {"type": "string", "format": "binary"}
UploadId = Annotated[uuid.UUID, Path(description="The id from POST /v1/uploads.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Start an upload of a local file",
    responses=_PROBLEMS,
)
async def create_upload(
    body: UploadCreate,
    session: SessionDep,
    resources: ResourcesDep,
    caller: CmsTokenDep,
    response: Response,
) -> UploadView:
    """For media that no URL can reach. Give the file's exact `size_bytes`; the answer says
    how to cut it: chunk `i` is bytes `[i*chunk_size_bytes, (i+1)*chunk_size_bytes)` (the last
    one shorter). PUT each chunk (`chunk_url_template`), in any order and several at once,
    then POST `.../finalize` for the `video_url` to analyse. The file goes straight on to
    Valossa; nothing of it is stored here. An upload with no new chunk for `UPLOAD_TTL_S`
    expires."""
    view = await flows.create_upload(
        session, resources.valossa, resources.settings, body, created_by=caller
    )
    response.headers["Location"] = f"/v1/uploads/{view.id}"
    return view


@router.get(
    "/{upload_id}", summary="An upload and its chunks", responses={**_NOT_FOUND, **_PROBLEMS}
)
async def get_upload(upload_id: UploadId, session: SessionDep) -> UploadView:
    """The chunks received so far (`chunks_received`): after an interruption, send only the
    missing ones."""
    return await flows.get_upload(session, upload_id)


@router.put(
    "/{upload_id}/chunks/{index}",
    summary="Send one chunk",
    responses={
        400: {"description": "The body did not arrive whole; send the chunk again"},
        409: {"description": "The upload is already finalized"},
        411: {"description": "No Content-Length"},
        413: {"description": "Larger than any chunk"},
        **_NOT_FOUND,
        **_PROBLEMS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_chunk(
    upload_id: UploadId,
    index: Annotated[int, Path(ge=0, description="The chunk's index, from 0.")],
    request: Request,
    resources: ResourcesDep,
) -> ChunkReceipt:
    """The raw bytes of chunk `index` as the body, with its exact Content-Length. They are
    streamed on to Valossa as they arrive; the answer comes once Valossa has the chunk. A chunk
    may be sent again (the later one counts). `422` for a wrong index or size, `503` when
    Valossa could not be reached (send the chunk again)."""
    length = int(request.headers.get("content-length", "0") or 0)
    return await receive_chunk(
        resources.sessionmaker,
        resources.valossa,
        resources.settings,
        upload_id,
        index,
        _body(request),
        length,
    )


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for piece in request.stream():
            if piece:
                yield piece
    except ClientDisconnect:
        raise ChunkInterrupted("the client disconnected") from None


@router.post(
    "/{upload_id}/finalize",
    summary="Finish an upload: its video_url",
    responses={
        409: {"description": "Chunks are missing (`missing_chunks`)"},
        **_NOT_FOUND,
        **_PROBLEMS,
    },
)
async def finalize_upload(upload_id: UploadId, resources: ResourcesDep) -> UploadView:
    """Once every chunk arrived: finalize at Valossa and answer the upload with its
    `video_url` (`valossaupload://...`). Pass it as `video_url` of `POST /v1/analyses`.
    Finalizing again answers the same. `409` lists the chunks still missing."""
    return await flows.finalize_upload(resources.sessionmaker, resources.valossa, upload_id)
