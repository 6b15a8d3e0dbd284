"""Valossa's replies may spell NUL or lone surrogates in any string (`\\u0000`, `\\udfff`).
Postgres refuses both, and pydantic refuses lone surrogates: each becomes U+FFFD, so that a
job status, a gallery name or an error message is stored instead of failing every attempt."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.valossa import ValossaClient
from service.valossa.errors import ValossaError
from tests.valossa.valossa_support import API_KEY, BASE_URL

REPLIES = {
    "job_status": b'{"status": "processing", "details": "step\\u0000 \\udfff\\ud800 2"}',
    "list_face_galleries": b'{"face_galleries": [{"id": "g\\u0000", "name": "\\udfffCast"}]}',
    "job_results": b'{"errors": [{"message": "no results for \\u0000\\udfff"}]}',
}


def _valossa(request: httpx.Request) -> httpx.Response:
    function = request.url.path.rsplit("/", 1)[-1]
    status = 404 if function == "job_results" else 200
    return httpx.Response(status, content=REPLIES[function])


async def _stored(session: AsyncSession, value: str) -> str:
    stored = await session.scalar(text("SELECT CAST(:value AS text)"), {"value": value})
    assert isinstance(stored, str)
    return stored


async def test_replies_with_nul_or_lone_surrogates_are_kept_with_replacements(
    session: AsyncSession,
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_valossa)) as http:
        valossa = ValossaClient(http, api_key=API_KEY, base_url=BASE_URL)
        status = await valossa.job_status(job_id="job-1")
        galleries = await valossa.list_face_galleries(show_details=True)
        with pytest.raises(ValossaError) as raised:
            async with valossa.job_results(job_id="job-1"):
                pass
        error = str(raised.value)

    assert status.details == "step\ufffd \ufffd\ufffd 2"
    gallery = galleries.face_galleries[0]
    assert (gallery.id, gallery.name) == ("g\ufffd", "\ufffdCast")
    assert "no results for \ufffd\ufffd" in error
    for value in (status.details, gallery.id, gallery.name, error):
        assert await _stored(session, value) == value
