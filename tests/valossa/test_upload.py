"""The chunked upload helper: exact chunks, bounded concurrency, lone retries, progress."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from valossa_support import API_KEY, BASE_URL

from service.valossa import RetryPolicy, ValossaClient, ValossaServerError, upload_file

UPLOAD_ID = "7c62bc7b-e143-4a81-aa83-a7eb0ec37077"


@dataclass
class FakeUploadServer:
    """A scripted Valossa upload endpoint: records chunks, counts concurrency, fails on demand."""

    chunk_size: int
    fail_once: set[int] = field(default_factory=set)
    fail_always: set[int] = field(default_factory=set)
    chunks: dict[int, bytes] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    declared_size: int | None = None
    finalized: bool = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        function = request.url.path.rsplit("/", 1)[-1]
        form = _multipart_fields(request.content)
        assert form["api_key"] == API_KEY.encode()
        if function == "initialize_file_upload":
            self.declared_size = int(form["file_size_bytes"])
            body = {"upload_id": UPLOAD_ID, "file_chunk_size_bytes": self.chunk_size}
            return httpx.Response(200, json=body)
        if function == "finalize_file_upload":
            self.finalized = True
            return httpx.Response(200, json={"uploaded_file_url": f"valossaupload://{UPLOAD_ID}"})
        index = int(form["chunk_index"])
        self.attempts[index] = self.attempts.get(index, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.005)
        finally:
            self.in_flight -= 1
        if index in self.fail_always or (index in self.fail_once and self.attempts[index] == 1):
            return httpx.Response(503, json={"errors": [{"message": "busy"}]})
        self.chunks[index] = form["file_data"]
        return httpx.Response(200, json={})


def _multipart_fields(body: bytes) -> dict[str, bytes]:
    boundary = body.split(b"\r\n", 1)[0]
    fields: dict[str, bytes] = {}
    for part in body.split(boundary)[1:-1]:
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        assert name is not None
        fields[name.group(1).decode()] = value[: -len(b"\r\n")]
    return fields


def make_client(server: FakeUploadServer, http: httpx.AsyncClient) -> ValossaClient:
    async def no_sleep(_: float) -> None:
        return None

    policy = RetryPolicy(max_attempts=3, sleep=no_sleep)
    return ValossaClient(http, api_key=API_KEY, base_url=BASE_URL, retry=policy)


async def run_upload(
    server: FakeUploadServer,
    source: Path | AsyncIterator[bytes],
    size: int,
    *,
    parallelism: int = 4,
    progress: list[int] | None = None,
) -> str:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        callback = progress.append if progress is not None else None
        return await upload_file(
            make_client(server, http),
            source,
            size=size,
            parallelism=parallelism,
            on_progress=callback,
        )


async def pieces(data: bytes, piece: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def test_documented_split_of_a_file(tmp_path: Path) -> None:
    # The documentation's example: 12740839 bytes in chunks of 4194304 -> 3 full + 157927 bytes,
    # scaled down by 1024 to keep the test fast.
    data = bytes(range(256)) * 48 + b"x" * 102  # 12390 bytes
    path = tmp_path / "supervideo.mp4"
    path.write_bytes(data)
    server = FakeUploadServer(chunk_size=4096)
    url = await run_upload(server, path, len(data))
    assert url == f"valossaupload://{UPLOAD_ID}"
    assert server.declared_size == len(data)
    assert sorted(server.chunks) == [0, 1, 2, 3]
    assert [len(server.chunks[i]) for i in range(4)] == [4096, 4096, 4096, 102]
    assert b"".join(server.chunks[i] for i in range(4)) == data
    assert server.finalized


@pytest.mark.parametrize("piece", [1000, 4096, 5000, 20000])
async def test_an_async_source_is_rechunked_exactly(piece: int) -> None:
    data = bytes(i % 251 for i in range(10_000))
    server = FakeUploadServer(chunk_size=4096)
    await run_upload(server, pieces(data, piece), len(data))
    assert [len(server.chunks[i]) for i in sorted(server.chunks)] == [4096, 4096, 1808]
    assert b"".join(server.chunks[i] for i in sorted(server.chunks)) == data


@pytest.mark.parametrize("parallelism", [1, 3])
async def test_concurrency_is_bounded(parallelism: int) -> None:
    data = b"v" * 40_000
    server = FakeUploadServer(chunk_size=1000)
    await run_upload(server, pieces(data, 7000), len(data), parallelism=parallelism)
    assert len(server.chunks) == 40
    assert server.max_in_flight == parallelism


async def test_a_failed_chunk_is_retried_alone() -> None:
    data = b"z" * 10_000
    server = FakeUploadServer(chunk_size=1000, fail_once={3, 7})
    await run_upload(server, pieces(data, 1000), len(data))
    assert server.attempts == {i: (2 if i in {3, 7} else 1) for i in range(10)}
    assert b"".join(server.chunks[i] for i in range(10)) == data


async def test_a_chunk_that_keeps_failing_aborts_without_finalizing() -> None:
    data = b"z" * 10_000
    server = FakeUploadServer(chunk_size=1000, fail_always={5})
    with pytest.raises(ValossaServerError):
        await run_upload(server, pieces(data, 1000), len(data))
    assert server.attempts[5] == 3  # the policy's max_attempts
    assert not server.finalized


async def test_progress_reports_cumulative_bytes() -> None:
    data = b"p" * 2500
    progress: list[int] = []
    await run_upload(FakeUploadServer(chunk_size=1000), pieces(data, 2500), 2500, progress=progress)
    # Chunks finish in any order, so only the running total is fixed: rising, ending at the size.
    assert len(progress) == 3
    assert progress == sorted(set(progress))
    assert progress[-1] == 2500


@pytest.mark.parametrize("actual", [999, 1001])
async def test_a_source_of_the_wrong_size_is_refused(actual: int) -> None:
    server = FakeUploadServer(chunk_size=300)
    with pytest.raises(ValueError, match="1000"):
        await run_upload(server, pieces(b"s" * actual, 100), 1000)
    assert not server.finalized
