"""Media transfer: fetch a job's video (http/https, valossaupload://, s3://) and transcript.

The video must really be a video: its first bytes name a known container and it can be probed.
Every failure becomes an `IngestError` whose text is the job's `details`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from service.emulator.entities import Upload
from service.emulator.media import SrtCue, TechnicalInfo, parse_srt, probe_media, sniff_container

MAX_VIDEO_BYTES = 7 * 1024**3
MAX_TRANSCRIPT_BYTES = 5 * 1024**2
SNIFF_BYTES = 4096
UPLOAD_SCHEME = "valossaupload://"


class IngestError(Exception):
    """The media could not be transferred; the message is shown as the job's `details`."""


@dataclass(frozen=True)
class IngestedMedia:
    """A job's media, transferred and checked."""

    video: Path
    technical: TechnicalInfo
    transcript: list[SrtCue] | None


@dataclass(frozen=True)
class MediaSources:
    """Where ingest may read from besides the network."""

    client: httpx.AsyncClient
    uploads: Mapping[str, Upload]
    owner: str
    s3_root: Path | None


async def ingest(
    sources: MediaSources, video_url: str, transcript_url: str | None, directory: Path
) -> IngestedMedia:
    """Transfer and check the video and transcript into `directory`."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    video = directory / "video"
    await _fetch_video(sources, video_url, video)
    technical = await asyncio.to_thread(probe_media, video)
    if technical is None:
        raise IngestError(
            "The video file could not be decoded: it starts like a video container but no "
            "playable video stream was found. Check that the file is not truncated or corrupt."
        )
    transcript = None
    if transcript_url is not None:
        transcript = await _fetch_transcript(sources, transcript_url)
    return IngestedMedia(video, technical, transcript)


def describe(url: str) -> str:
    """The URL without query or fragment, which may hold signatures."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


async def _fetch_video(sources: MediaSources, url: str, target: Path) -> None:
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        await _download(sources.client, url, target)
    else:
        source = _local_source(sources, url)
        await asyncio.to_thread(_link_or_copy, source, target)
    head = await asyncio.to_thread(_read_head, target)
    _check_video_head(head, url, content_type=None)


def _read_head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(SNIFF_BYTES)


def _local_source(sources: MediaSources, url: str) -> Path:
    if url.startswith(UPLOAD_SCHEME):
        upload = sources.uploads.get(url.removeprefix(UPLOAD_SCHEME))
        if upload is None or upload.owner != sources.owner or not upload.usable:
            raise IngestError(f"The uploaded file {url} does not exist or was not finalized.")
        return upload.path
    if url.startswith("s3://") and sources.s3_root is not None:
        parts = urlsplit(url)
        root = sources.s3_root.resolve()
        path = (root / parts.netloc / parts.path.lstrip("/")).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise IngestError(f"Could not read {describe(url)}: no such object in the bucket.")
        return path
    raise IngestError(f"Unsupported URL scheme in {describe(url)}.")


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link costs nothing for multi-GB uploads; copy when the filesystems differ.
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


async def _download(client: httpx.AsyncClient, url: str, target: Path) -> None:
    where = describe(url)
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise IngestError(
                    f"Could not download the video from {where}: the server answered HTTP "
                    f"{response.status_code}. The URL must be a direct, downloadable link to "
                    "the video file."
                )
            await _save_stream(response, url, target)
    except httpx.HTTPError as exc:
        raise IngestError(
            f"Could not download the video from {where}: {type(exc).__name__}"
            f"{': ' + str(exc) if str(exc) else ''}. Check that the URL is reachable."
        ) from exc


async def _save_stream(response: httpx.Response, url: str, target: Path) -> None:
    head = b""
    written = 0
    with target.open("wb") as file:
        async for piece in response.aiter_bytes(1024 * 1024):
            if len(head) < SNIFF_BYTES:
                head += piece[: SNIFF_BYTES - len(head)]
                if len(head) >= SNIFF_BYTES:
                    _check_video_head(head, url, response.headers.get("content-type"))
            written += len(piece)
            if written > MAX_VIDEO_BYTES:
                raise IngestError("The video file is larger than the 7 GB limit.")
            await asyncio.to_thread(file.write, piece)
    if written == 0:
        raise IngestError(f"The video URL {describe(url)} returned an empty file.")


def _check_video_head(head: bytes, url: str, content_type: str | None) -> None:
    if sniff_container(head) is not None:
        return
    looks = "HTML (a web page)" if b"<html" in head[:1024].lower() else "no known video container"
    served = f" (served as {content_type})" if content_type else ""
    raise IngestError(
        f"The file at {describe(url)}{served} is not a video: its first bytes look like {looks}. "
        "Provide a direct link to a video file (MP4, MPEG, AVI, FLV, WebM), not a web page."
    )


async def _fetch_transcript(sources: MediaSources, url: str) -> list[SrtCue]:
    where = describe(url)
    data = await _read_small(sources, url, MAX_TRANSCRIPT_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"The transcript at {where} is not UTF-8 text.") from exc
    try:
        return parse_srt(text)
    except ValueError as exc:
        raise IngestError(f"The transcript at {where} is not a valid SRT file: {exc}") from exc


async def _read_small(sources: MediaSources, url: str, limit: int) -> bytes:
    where = describe(url)
    if urlsplit(url).scheme not in ("http", "https"):
        path = _local_source(sources, url)
        if path.stat().st_size > limit:
            raise IngestError(f"The transcript at {where} is larger than the 5 MB limit.")
        return await asyncio.to_thread(path.read_bytes)
    try:
        async with sources.client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise IngestError(
                    f"Could not download the transcript from {where}: the server answered "
                    f"HTTP {response.status_code}."
                )
            data = bytearray()
            async for piece in response.aiter_bytes():
                data += piece
                if len(data) > limit:
                    raise IngestError(f"The transcript at {where} is larger than the 5 MB limit.")
            return bytes(data)
    except httpx.HTTPError as exc:
        raise IngestError(
            f"Could not download the transcript from {where}: {type(exc).__name__}."
        ) from exc
