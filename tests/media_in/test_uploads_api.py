"""/v1/uploads against the emulator: chunks in any order and at once, resumable, byte-identical."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.api.limits import RequestBodyGuard
from service.api.uploads import CHUNK_ROUTE_LIMIT
from service.db import SessionMaker
from service.main import create_app
from service.process.serving import serve_in_background
from service.settings import Settings
from service.uploads.chunks import ChunkInterrupted, exactly
from service.uploads.flows import MAX_CHUNK_BYTES
from service.uploads.models import Upload
from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle

CHUNK = 16 * 1024
#: MAX_BODY_BYTES's default: the limit of every other CMS API route.
DEFAULT_MAX_BODY = Settings.model_fields["max_body_bytes"].default


@pytest.fixture(autouse=True)
async def _small_chunks(emulator: EmulatorHandle) -> None:
    await emulator.configure(chunk_size=CHUNK)


async def _start(stack: Stack, data: bytes, filename: str = "clip.mp4") -> dict[str, Any]:
    response = await stack.api.post(
        "/v1/uploads", json={"size_bytes": len(data), "filename": filename}
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/uploads/{response.json()['id']}"
    return response.json()  # type: ignore[no-any-return]


async def _put(stack: Stack, upload: dict[str, Any], data: bytes, index: int) -> httpx.Response:
    size = upload["chunk_size_bytes"]
    url = upload["chunk_url_template"].format(index=index)
    return await stack.api.put(url, content=data[index * size : (index + 1) * size])


def _at_emulator(tmp_path: Path, video_url: str) -> bytes:
    return (
        tmp_path / "emulator" / "uploads" / video_url.removeprefix("valossaupload://")
    ).read_bytes()


async def test_chunks_in_any_order_and_at_once_make_the_file_then_an_analysis(
    stack: Stack, clip: bytes, tmp_path: Path
) -> None:
    upload = await _start(stack, clip)
    assert upload["chunk_size_bytes"] == CHUNK
    assert upload["chunk_count"] == -(-len(clip) // CHUNK)
    assert upload["status"] == "open"
    assert upload["chunks_received"] == []
    order = list(range(upload["chunk_count"]))
    random.Random(3).shuffle(order)
    answers = await asyncio.gather(*(_put(stack, upload, clip, i) for i in order))
    assert [a.status_code for a in answers] == [200] * len(order), [a.text for a in answers]
    assert {a.json()["index"] for a in answers} == set(order)

    finalized = (await stack.api.post(f"/v1/uploads/{upload['id']}/finalize")).json()
    assert finalized["status"] == "finalized"
    assert finalized["video_url"].startswith("valossaupload://")
    assert finalized["received_bytes"] == len(clip)
    assert _at_emulator(tmp_path, finalized["video_url"]) == clip

    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        created = await stack.api.post(
            "/v1/analyses",
            json={"customer_media_id": "uploaded", "video_url": finalized["video_url"]},
        )
        done = await wait_for_status(stack.api, created.json()["id"], {"finished", "failed"})
    assert done["status"] == "finished", done


async def test_an_interrupted_upload_lists_its_chunks_and_resumes(
    stack: Stack, clip: bytes, tmp_path: Path
) -> None:
    upload = await _start(stack, clip)
    count = upload["chunk_count"]
    for index in (0, 3, count - 1):
        assert (await _put(stack, upload, clip, index)).status_code == 200
    listed = (await stack.api.get(f"/v1/uploads/{upload['id']}")).json()
    assert listed["chunks_received"] == [0, 3, count - 1]
    assert listed["received_bytes"] == 2 * CHUNK + (len(clip) - (count - 1) * CHUNK)

    early = await stack.api.post(f"/v1/uploads/{upload['id']}/finalize")
    assert early.status_code == 409
    assert early.headers["content-type"] == "application/problem+json"
    assert early.json()["missing_chunks"] == [i for i in range(count) if i not in (0, 3, count - 1)]

    for index in early.json()["missing_chunks"]:
        assert (await _put(stack, upload, clip, index)).status_code == 200
    assert (await _put(stack, upload, clip, 3)).status_code == 200  # a chunk sent again
    first = (await stack.api.post(f"/v1/uploads/{upload['id']}/finalize")).json()
    again = (await stack.api.post(f"/v1/uploads/{upload['id']}/finalize")).json()
    assert first["video_url"] == again["video_url"]
    assert _at_emulator(tmp_path, first["video_url"]) == clip
    late = await _put(stack, upload, clip, 0)
    assert late.status_code == 409


@pytest.mark.parametrize(
    ("index", "content", "status", "message"),
    [
        (0, b"x" * 100, 422, f"chunk 0 must be exactly {CHUNK} bytes (bytes 0 to {CHUNK - 1}"),
        (99, b"x" * CHUNK, 422, "chunk index 99 is out of range"),
    ],
)
async def test_wrong_chunks_are_refused_with_a_reason(
    stack: Stack, clip: bytes, index: int, content: bytes, status: int, message: str
) -> None:
    upload = await _start(stack, clip)
    response = await stack.api.put(f"/v1/uploads/{upload['id']}/chunks/{index}", content=content)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]


async def test_a_chunk_without_content_length_is_refused_unread(stack: Stack, clip: bytes) -> None:
    upload = await _start(stack, clip)

    async def body() -> Any:
        yield clip[:CHUNK]

    response = await stack.api.put(f"/v1/uploads/{upload['id']}/chunks/0", content=body())
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]


def test_only_the_chunk_route_takes_chunk_sized_bodies() -> None:
    limits = RequestBodyGuard(
        lambda *_: None,  # type: ignore[arg-type]
        default=DEFAULT_MAX_BODY,
        by_prefix={},
        timeout_s=30,
        routes=[CHUNK_ROUTE_LIMIT],
    )
    assert limits.limit_for("/v1/uploads/5b1c/chunks/3") == MAX_CHUNK_BYTES
    assert limits.rule_for("/v1/uploads/5b1c/chunks/3").length_required
    assert limits.limit_for("/v1/uploads") == DEFAULT_MAX_BODY
    assert limits.limit_for("/v1/uploads/5b1c/finalize") == DEFAULT_MAX_BODY
    assert limits.limit_for("/v1/analyses") == DEFAULT_MAX_BODY


async def test_a_large_body_elsewhere_is_still_refused(stack: Stack) -> None:
    padding = "x" * (DEFAULT_MAX_BODY + 1)
    response = await stack.api.post("/v1/uploads", json={"size_bytes": 1, "filename": padding})
    assert response.status_code == 413


async def test_a_chunk_valossa_could_not_take_is_sent_again(
    stack: Stack, emulator: EmulatorHandle, clip: bytes, tmp_path: Path
) -> None:
    upload = await _start(stack, clip)
    await emulator.configure(error_rate=1.0)
    failed = await _put(stack, upload, clip, 0)
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert "send it again" in failed.json()["detail"]
    await emulator.configure(error_rate=0.0)
    listed = (await stack.api.get(f"/v1/uploads/{upload['id']}")).json()
    assert listed["chunks_received"] == []
    for index in range(upload["chunk_count"]):
        assert (await _put(stack, upload, clip, index)).status_code == 200
    done = (await stack.api.post(f"/v1/uploads/{upload['id']}/finalize")).json()
    assert _at_emulator(tmp_path, done["video_url"]) == clip


async def test_an_abandoned_upload_expires(
    stack: Stack, clip: bytes, sessionmaker: SessionMaker
) -> None:
    stack.settings.upload_ttl_s = 0.5
    upload = await _start(stack, clip)
    await asyncio.sleep(0.7)
    for response in (
        await stack.api.get(f"/v1/uploads/{upload['id']}"),
        await _put(stack, upload, clip, 0),
        await stack.api.post(f"/v1/uploads/{upload['id']}/finalize"),
    ):
        assert response.status_code == 404
        assert response.json()["reason"] == "expired"
    await _start(stack, clip)  # starting another one sweeps the expired
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Upload)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"size_bytes": 0, "filename": "a.mp4"}, "size_bytes"),
        ({"size_bytes": 8 * 1024**3, "filename": "a.mp4"}, "less than or equal to 7516192768"),
        ({"size_bytes": 10, "filename": ""}, "filename"),
        ({"size_bytes": 10, "filename": "a\nb.mp4"}, "control characters"),
        ({"size_bytes": 10, "filename": "a.mp4", "colour": "red"}, "colour"),
    ],
)
async def test_invalid_uploads_get_422(stack: Stack, body: dict[str, Any], message: str) -> None:
    response = await stack.api.post("/v1/uploads", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


async def test_uploads_need_a_token(stack: Stack) -> None:
    response = await stack.api.get(
        "/v1/uploads/00000000-0000-0000-0000-000000000000", headers={"Authorization": ""}
    )
    assert response.status_code == 401
    unknown = await stack.api.get("/v1/uploads/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404
    assert unknown.json()["reason"] == "unknown_upload"


async def test_any_replica_takes_any_chunk(stack: Stack, clip: bytes, tmp_path: Path) -> None:
    """The upload's state is in Postgres: chunks to two API replicas make one file."""
    async with (
        serve_in_background(create_app(stack.settings)) as second,
        httpx.AsyncClient(base_url=second.url, headers=dict(stack.api.headers)) as other,
    ):
        upload = await _start(stack, clip)
        size = upload["chunk_size_bytes"]
        replicas = [stack.api, other]
        answers = await asyncio.gather(
            *(
                replicas[index % 2].put(
                    f"/v1/uploads/{upload['id']}/chunks/{index}",
                    content=clip[index * size : (index + 1) * size],
                )
                for index in range(upload["chunk_count"])
            )
        )
        assert all(answer.status_code == 200 for answer in answers)
        done = (await other.post(f"/v1/uploads/{upload['id']}/finalize")).json()
    assert _at_emulator(tmp_path, done["video_url"]) == clip


async def test_a_chunk_cut_off_midway_is_not_recorded(stack: Stack, clip: bytes) -> None:
    upload = await _start(stack, clip)
    host, port = stack.api_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"PUT /v1/uploads/{upload['id']}/chunks/0 HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer test-token\r\nContent-Length: {CHUNK}\r\n\r\n"
    )
    writer.write(head.encode() + clip[: CHUNK // 2])
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.5)
    listed = (await stack.api.get(f"/v1/uploads/{upload['id']}")).json()
    assert listed["chunks_received"] == []
    again = await _put(stack, upload, clip, 0)
    assert again.status_code == 200


async def test_a_chunk_body_must_be_exactly_its_size() -> None:
    async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    assert [p async for p in exactly(pieces(b"ab", b"cd"), 4)] == [b"ab", b"cd"]
    with pytest.raises(ChunkInterrupted, match="ended after 3 of 4 bytes"):
        _ = [p async for p in exactly(pieces(b"ab", b"c"), 4)]
    with pytest.raises(ChunkInterrupted, match="more than the 4 bytes"):
        _ = [p async for p in exactly(pieces(b"abc", b"de"), 4)]
