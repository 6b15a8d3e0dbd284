"""A multipart/form-data body whose file part is streamed, never held in memory whole.

httpx builds multipart bodies from bytes or synchronous files only; a chunk that arrives as a
request body of our own API is an async stream. Its size is known up front, so the whole body
gets a Content-Length, as a `curl -F` upload has.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamedPart:
    """A file part read from a one-shot async stream of exactly `size` bytes."""

    name: str
    filename: str
    content_type: str
    body: AsyncIterable[bytes]
    size: int


def _quoted(value: str) -> str:
    # As browsers and httpx encode names in Content-Disposition (HTML's multipart rules).
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def streamed_form(
    fields: Mapping[str, str], part: StreamedPart
) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """The headers and the body of a form with `fields` and then the streamed `part`."""
    boundary = secrets.token_hex(16)
    head = bytearray()
    for name, value in fields.items():
        disposition = f'Content-Disposition: form-data; name="{_quoted(name)}"'
        head += f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(part.name)}"; '
        f'filename="{_quoted(part.filename)}"\r\nContent-Type: {part.content_type}\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + part.size + len(tail)),
    }

    async def body() -> AsyncIterator[bytes]:
        yield bytes(head)
        async for piece in part.body:
            yield piece
        yield tail

    return headers, body()
