"""GET /v1/media/{id} and its metadata: current analysis, byte-identical bytes, ETag, gzip, 404s."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest

from service.analyses.models import Analysis
from service.analyses.results import (
    CHUNK_BYTES,
    FIRST_BATCH_CHUNKS,
    record_absent,
    store_result,
)
from service.analyses.states import AnalysisStatus
from service.db import SessionMaker
from tests.support.factories import insert_analysis

# Odd spacing, CRLF and non-ASCII: any re-serialisation on the way would change these bytes.
CORE = (
    b'{"version_info": {"metadata_format" :"1.3.1"},\r\n'
    + b'  "detections": {"1": {"label": "h\xc3\xa4t"'
    + b', "pad": "'
    + b"x\xc3\xa9 " * 330_000
    + b'"}}  }\n'
)
SRT = b"1\r\n00:00:01,000 --> 00:00:02,500\r\nHei maailma\r\n\r\n"
SRT_TYPE = "application/x-subrip; charset=utf-8"


async def _chunks(data: bytes, size: int = 300_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def finished_analysis(
    sessionmaker: SessionMaker,
    media: str = "media-1",
    *,
    core: bytes = CORE,
    result_types: list[str] | None = None,
) -> Analysis:
    """A finished analysis with core and SRT stored and VTT recorded as absent."""
    analysis = await insert_analysis(
        sessionmaker,
        customer_media_id=media,
        status=AnalysisStatus.FINISHED,
        result_types=result_types or ["core", "speech_to_text_srt", "speech_to_text_vtt"],
    )
    async with sessionmaker() as session, session.begin():
        await store_result(
            session, analysis.id, "core", _chunks(core), content_type="application/json"
        )
        await store_result(
            session, analysis.id, "speech_to_text_srt", _chunks(SRT), content_type=SRT_TYPE
        )
        record_absent(session, analysis.id, "speech_to_text_vtt", "the video has no speech")
    return analysis


async def test_media_view_names_the_latest_and_the_current_analysis(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    current = await finished_analysis(sessionmaker)
    latest = await insert_analysis(
        sessionmaker, customer_media_id="media-1", status=AnalysisStatus.SUBMITTED
    )
    await insert_analysis(sessionmaker, customer_media_id="other")

    response = await app_client.get("/v1/media/media-1", headers=auth_headers)

    assert response.status_code == 200, response.text
    media = response.json()
    assert media["customer_media_id"] == "media-1"
    assert media["status"] == "submitted"
    assert media["latest_analysis"]["id"] == str(latest.id)
    assert media["current_analysis_id"] == str(current.id)
    assert media["result_types"] == ["core", "speech_to_text_srt"]
    assert media["analyses_count"] == 2


async def test_media_view_of_a_finished_media(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    missing = await app_client.get("/v1/media/film-42", headers=auth_headers)
    assert missing.status_code == 404
    assert "film-42" in missing.json()["detail"]
    assert missing.json()["reason"] == "unknown_media"  # as /metadata and /summary say it

    analysis = await finished_analysis(sessionmaker, "film-42 ä")
    media = (await app_client.get("/v1/media/film-42 ä", headers=auth_headers)).json()
    assert media["status"] == "finished"
    assert media["current_analysis_id"] == str(analysis.id)
    results = media["latest_analysis"]["results"]
    assert results["core"]["sha256"] == hashlib.sha256(CORE).hexdigest()
    assert results["core"]["size_bytes"] == len(CORE)
    assert results["core"]["metadata_format"] == "1.3.1"
    assert results["speech_to_text_vtt"]["state"] == "absent"


async def test_metadata_is_byte_identical_with_etag_and_length(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await finished_analysis(sessionmaker)
    headers = {**auth_headers, "Accept-Encoding": "identity"}

    core = await app_client.get("/v1/media/media-1/metadata?type=core", headers=headers)
    assert core.status_code == 200
    assert core.content == CORE
    assert core.headers["content-type"] == "application/json"
    assert core.headers["etag"] == f'"{hashlib.sha256(CORE).hexdigest()}"'
    assert core.headers["content-length"] == str(len(CORE))
    assert "content-encoding" not in core.headers
    assert core.headers["vary"] == "Accept-Encoding"
    assert core.headers["x-content-type-options"] == "nosniff"

    default = await app_client.get("/v1/media/media-1/metadata", headers=headers)
    assert default.content == CORE

    srt = await app_client.get(
        "/v1/media/media-1/metadata", params={"type": "speech_to_text_srt"}, headers=headers
    )
    assert srt.content == SRT
    assert srt.headers["content-type"] == SRT_TYPE


async def test_metadata_of_every_byte_value_over_several_batches_comes_back_identical(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    """Chunks are read in the driver's binary format: no byte value may be transformed."""
    every_byte = bytes(range(256)) * (CHUNK_BYTES * (FIRST_BATCH_CHUNKS + 1) // 256 + 3)
    await finished_analysis(sessionmaker, "binary", core=every_byte)

    core = await app_client.get(
        "/v1/media/binary/metadata?type=core",
        headers={**auth_headers, "Accept-Encoding": "identity"},
    )

    assert core.status_code == 200
    assert len(core.content) == len(every_byte)
    assert core.content == every_byte


@pytest.mark.parametrize("accept", ["gzip", "gzip, deflate, br", "*", "br;q=1, gzip;q=0.5"])
async def test_metadata_is_gzipped_when_accepted(
    app_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
    accept: str,
) -> None:
    await finished_analysis(sessionmaker)
    request = app_client.build_request(
        "GET", "/v1/media/media-1/metadata", headers={**auth_headers, "Accept-Encoding": accept}
    )
    response = await app_client.send(request, stream=True)
    raw = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    assert len(raw) < len(CORE) // 10
    assert gzip.decompress(raw) == CORE


@pytest.mark.parametrize("accept", ["gzip;q=0", "identity", "*;q=0", "deflate"])
async def test_metadata_is_not_gzipped_when_refused(
    app_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    sessionmaker: SessionMaker,
    accept: str,
) -> None:
    await finished_analysis(sessionmaker)
    response = await app_client.get(
        "/v1/media/media-1/metadata", headers={**auth_headers, "Accept-Encoding": accept}
    )
    assert "content-encoding" not in response.headers
    assert response.content == CORE


async def test_if_none_match_gives_304(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await finished_analysis(sessionmaker)
    etag = (await app_client.get("/v1/media/media-1/metadata", headers=auth_headers)).headers[
        "etag"
    ]
    for value in (etag, f'"nope", W/{etag}', "*"):
        response = await app_client.get(
            "/v1/media/media-1/metadata", headers={**auth_headers, "If-None-Match": value}
        )
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["etag"] == etag
    stale = await app_client.get(
        "/v1/media/media-1/metadata", headers={**auth_headers, "If-None-Match": '"old"'}
    )
    assert stale.status_code == 200


async def test_reanalysis_replaces_the_current_metadata(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await finished_analysis(sessionmaker, core=b'{"v": 1}')
    newer = await finished_analysis(sessionmaker, core=b'{"v": 2}')
    media = (await app_client.get("/v1/media/media-1", headers=auth_headers)).json()
    assert media["current_analysis_id"] == str(newer.id)
    body = await app_client.get("/v1/media/media-1/metadata", headers=auth_headers)
    assert body.content == b'{"v": 2}'


async def test_metadata_404_reasons(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    async def problem(media: str, result_type: str = "core") -> dict[str, str]:
        response = await app_client.get(
            f"/v1/media/{media}/metadata", params={"type": result_type}, headers=auth_headers
        )
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body: dict[str, str] = response.json()
        return body

    unknown = await problem("nobody")
    assert unknown["reason"] == "unknown_media"

    await insert_analysis(sessionmaker, customer_media_id="busy", status=AnalysisStatus.SUBMITTED)
    busy = await problem("busy")
    assert busy["reason"] == "not_finished"
    assert "submitted" in busy["detail"]

    await finished_analysis(sessionmaker)
    absent = await problem("media-1", "speech_to_text_vtt")
    assert absent["reason"] == "type_absent"
    assert "the video has no speech" in absent["detail"]
    not_requested = await problem("media-1", "frames_faces")
    assert not_requested["reason"] == "type_not_requested"

    invalid = await app_client.get(
        "/v1/media/media-1/metadata", params={"type": "everything"}, headers=auth_headers
    )
    assert invalid.status_code == 422
