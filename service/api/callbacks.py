"""`/callbacks/valossa/{token}`: Valossa's end-of-job callback (no bearer token: Valossa calls)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.analyses.flows import callback as flows_callback
from service.analyses.schemas import CallbackAck
from service.api.deps import ResourcesDep, SessionDep

router = APIRouter(prefix="/callbacks", tags=["callbacks"])


@router.post(
    "/valossa/{token}",
    summary="Valossa's job callback",
    responses={404: {"description": "Unknown or forged token"}},
    openapi_extra={
        "requestBody": {
            "required": False,
            "description": "Valossa's callback document; read only as a hint.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def valossa_callback(
    token: str,
    request: Request,
    session: SessionDep,
    resources: ResourcesDep,
) -> CallbackAck:
    """Called by Valossa when a job ends. The token in the URL identifies the analysis; the
    body is only a hint, so the analysis is just made due for an immediate status check.
    Duplicates are harmless. The token is checked before a byte of the body is read."""
    analysis_id = flows_callback.analysis_of(resources.tokens, token)
    body = await request.body()
    await flows_callback.receive_callback(session, analysis_id, body)
    return CallbackAck()
