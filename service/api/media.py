"""`/v1/media/{customer_media_id}`: a media's state, its metadata, its erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from service.analyses.flows import media as flows_media
from service.analyses.results import ResultType
from service.analyses.schemas import MediaView
from service.api.deps import ResourcesDep, SessionDep, reader_of
from service.api.direct_route import DirectRoute
from service.api.media_paths import MediaIdPath
from service.api.representation import result_response

router = APIRouter(prefix="/v1/media", tags=["media"])
#: The read a CMS polls, served by a DirectRoute and routed before every other route.
reads = APIRouter(prefix="/v1/media", tags=["media"], route_class=DirectRoute)


@reads.get("/{customer_media_id}", summary="A media's current state", responses={404: {}})
async def get_media(customer_media_id: MediaIdPath, request: Request) -> MediaView:
    """The media's latest analysis and its `status` (`finished` when done), which analysis
    holds its current metadata (the newest finished one) and which result types it stored,
    by their Valossa names (`core`, `speech_to_text_srt`, ...). `404` if it was never analysed."""
    return await flows_media.media_view(reader_of(request), customer_media_id)


@router.get(
    "/{customer_media_id}/metadata",
    summary="A media's stored metadata, as Valossa returned it",
    response_class=Response,
    responses={
        200: {"description": "The result, byte-identical to Valossa's", "content": {"*/*": {}}},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"description": "Not available; `reason` says why"},
    },
)
async def get_metadata(
    customer_media_id: MediaIdPath,
    request: Request,
    session: SessionDep,
    resources: ResourcesDep,
    type: Annotated[ResultType, Query(description="A Valossa result type.")] = ResultType.CORE,
) -> Response:
    """One result type of the media's current (newest finished) analysis, exactly as Valossa
    returned it, with its content type (JSON, SRT, VTT, TTML or text). The `ETag` is the
    sha256 of the bytes: send it back in `If-None-Match` to get `304`. Compressed with gzip
    when `Accept-Encoding` allows. `404` with a `reason`: `unknown_media`, `not_finished`,
    `type_not_requested` or `type_absent` (Valossa produced none, e.g. no speech)."""
    body = await flows_media.metadata_body(session, customer_media_id, type)
    return result_response(request, resources.sessionmaker, body)


@router.delete(
    "/{customer_media_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase a media",
    responses={
        409: {"description": "An analysis of the media is being submitted; retry"},
        503: {"description": "Valossa or the database is unreachable; nothing was deleted"},
    },
)
async def delete_media(
    customer_media_id: MediaIdPath, session: SessionDep, resources: ResourcesDep
) -> Response:
    """Delete the media's jobs at Valossa (with their video and results), then every analysis,
    event and stored result we hold about it. Idempotent: an unknown media answers `204` too.
    `503` when Valossa is unreachable (nothing of ours was deleted, retry later); `409` while
    an analysis of the media is being submitted (retry in a few seconds)."""
    await flows_media.delete_media(session, resources.valossa, customer_media_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
