"""HTTP representation of a stored result: ETag, conditional GET, gzip when accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from isal import isal_zlib

from service.analyses.results import ResultBody, stream_result
from service.db import SessionMaker

#: gzip container (header + deflate + trailer) for isal_zlib.compressobj.
GZIP_WBITS = 31


def etag_of(body: ResultBody) -> str:
    """The strong validator of a stored result: its sha256, quoted."""
    return f'"{body.sha256}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """True if an If-None-Match header names `etag` (weak comparison, `*` matches anything)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True if Accept-Encoding allows gzip (explicitly or through `*`) with a q above 0."""
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            weights[name.lower()] = q
    if "gzip" in weights:
        return weights["gzip"] > 0
    return weights.get("*", 0.0) > 0


#: Fast compression: metadata JSON shrinks several-fold even so, and tens of MB stay quick.
#: ISA-L's level 1 (of 0-3) compressed a 100 MB core ~4x faster than zlib's 1, and smaller.
GZIP_LEVEL = 1


async def gzipped(chunks: AsyncIterator[memoryview]) -> AsyncIterator[bytes]:
    """Compress a byte stream into gzip on the fly, in a worker thread so that other requests
    are served meanwhile. Each chunk's compressed bytes are sent before the next chunk is read
    (a sync flush: a few bytes each): memory stays one chunk deep, and the client sees the
    download progress however well the bytes compress (ISA-L would hold them back)."""
    compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, GZIP_WBITS)

    def compressed(chunk: memoryview) -> bytes:
        return compressor.compress(chunk) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)

    async for chunk in chunks:
        yield await anyio.to_thread.run_sync(compressed, chunk)
    yield compressor.flush()


def result_response(request: Request, sessionmaker: SessionMaker, body: ResultBody) -> Response:
    """The stored bytes, byte-identical (or gzip of them), or 304 if the client has them."""
    etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": "no-cache",
        # The content type is Valossa's: never let a browser guess another one from the bytes.
        "X-Content-Type-Options": "nosniff",
    }
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    chunks = stream_result(sessionmaker, body)
    if accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return StreamingResponse(gzipped(chunks), media_type=body.content_type, headers=headers)
    headers["Content-Length"] = str(body.size_bytes)
    return StreamingResponse(chunks, media_type=body.content_type, headers=headers)
