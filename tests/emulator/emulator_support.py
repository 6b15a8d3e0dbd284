"""Helpers for emulator tests: a loopback file and callback server, and polling helpers."""

from __future__ import annotations

import asyncio
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from tests.support.waiting import eventually

API_KEY = "test-key"
OTHER_KEY = "other-key"


@dataclass
class Peer:
    """A loopback web server: serves files and records the callbacks it receives."""

    files: Path
    callback_codes: list[int] = field(default_factory=list)  #: answers to give, in order
    callback_sleep_s: float = 0.0  #: delay of the first answer (to provoke a timeout)
    file_delay_s: float = 0.0  #: wait before serving a file (a download in progress)
    received: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        """The ASGI app for this peer."""

        async def serve_file(request: Request) -> Response:
            path = self.files / request.path_params["name"]
            if self.file_delay_s:
                await asyncio.sleep(self.file_delay_s)
            if not path.is_file():
                return Response("not here", status_code=404)
            return FileResponse(path)

        async def callback(request: Request) -> Response:
            self.received.append(await request.json())
            if self.callback_sleep_s and len(self.received) == 1:
                await asyncio.sleep(self.callback_sleep_s)
            code = self.callback_codes.pop(0) if self.callback_codes else 200
            return JSONResponse({}, status_code=code)

        return Starlette(
            routes=[
                Route("/files/{name}", serve_file),
                Route("/callback", callback, methods=["POST"]),
            ]
        )


async def wait_for_job(
    client: httpx.AsyncClient, job_id: str, statuses: set[str], *, key: str = API_KEY
) -> dict[str, Any]:
    """Poll job_status until the job reaches one of `statuses`."""

    async def check() -> dict[str, Any] | None:
        answer = await client.get("/core/1.0/job_status", params={"api_key": key, "job_id": job_id})
        body: dict[str, Any] = answer.json()
        return body if body.get("status") in statuses else None

    result: dict[str, Any] = await eventually(check, within=10.0, interval=0.02)
    return result


async def new_job(client: httpx.AsyncClient, video_url: str, **extra: Any) -> str:
    """Create a job for `video_url` with optional extra body fields; returns its id."""
    media = {"video": {"url": video_url}, **extra.pop("media", {})}
    answer = await client.post(
        "/core/1.0/new_job", json={"api_key": API_KEY, "media": media, **extra}
    )
    assert answer.status_code == 200, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


def error_message(answer: httpx.Response) -> str:
    """The single error message of a Valossa error body."""
    body = answer.json()
    assert list(body) == ["errors"]
    assert len(body["errors"]) == 1
    message: str = body["errors"][0]["message"]
    return message


def png(width: int, height: int) -> bytes:
    """A small but valid PNG header with the given size (the emulator reads only the header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )
