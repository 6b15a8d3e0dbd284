"""The baseline of the HTTP benchmarks: a bare Starlette app in one uvicorn process.

No middleware, no database, no logging: what the same machine serves when a request costs only
uvicorn and Starlette. The answers have the sizes of ours, so that the bytes on the wire match:

  GET  /json     a JSON body of --json-bytes bytes (our GET answer's size)
  POST /json     reads and parses the JSON body, answers 202 with --post-json-bytes bytes
  GET  /stream   the bytes of --stream-file as a StreamingResponse, 1 MiB per chunk, with a
                 Content-Length (read into memory at start-up)

    .venv/bin/python bench/bare_starlette.py --port 8090 --json-bytes 1500
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

STREAM_CHUNK = 1024 * 1024


def json_of_size(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (at least 12)."""
    shell = b'{"pad":""}'
    return shell[:-2] + b"x" * max(0, size - len(shell)) + shell[-2:]


def create_app(json_bytes: int, post_json_bytes: int, stream: bytes) -> Starlette:
    get_body = json_of_size(json_bytes)
    post_body = json_of_size(post_json_bytes)

    async def get_json(_: Request) -> Response:
        return Response(get_body, media_type="application/json")

    async def post_json(request: Request) -> Response:
        json.loads(await request.body())
        return Response(post_body, status_code=202, media_type="application/json")

    async def get_stream(_: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            view = memoryview(stream)
            for start in range(0, len(stream), STREAM_CHUNK):
                yield bytes(view[start : start + STREAM_CHUNK])

        return StreamingResponse(
            chunks(),
            media_type="application/json",
            headers={"Content-Length": str(len(stream))},
        )

    return Starlette(
        routes=[
            Route("/json", get_json, methods=["GET"]),
            Route("/json", post_json, methods=["POST"]),
            Route("/stream", get_stream, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--json-bytes", type=int, default=1024)
    parser.add_argument("--post-json-bytes", type=int, default=1024)
    parser.add_argument("--stream-file", type=Path)
    args = parser.parse_args()
    stream = args.stream_file.read_bytes() if args.stream_file else b""
    app = create_app(args.json_bytes, args.post_json_bytes, stream)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
