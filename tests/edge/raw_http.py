"""Raw HTTP/1.1 over a socket: what a hostile client sends, byte for byte."""

from __future__ import annotations

import contextlib
import select
import socket
from dataclasses import dataclass

#: One chunk of a chunked body: 64 KiB of "x".
CHUNK = 64 * 1024


@dataclass
class RawResponse:
    """A response as read off the socket."""

    status: int
    headers: dict[str, str]
    body: bytes


def request_head(method: str, path: str, *headers: str) -> bytes:
    """A request line and headers (Host included), ready to send."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def send_chunked_until_answered(sock: socket.socket, head: bytes, total: int) -> int:
    """Send `head`, then chunks of a body up to `total` bytes (and the last, empty chunk),
    stopping as soon as the server answers or stops reading; the number of body bytes sent."""
    sock.sendall(head)
    piece = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
    sent = 0
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                return sent  # the server has answered (or closed)
            sock.sendall(piece)
            sent += CHUNK
        sock.sendall(b"0\r\n\r\n")
    return sent


def read_response(sock: socket.socket) -> RawResponse:
    """Read one response (headers and a Content-Length body) from the socket."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        headers = _headers(head)
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            body += piece
    if b"\r\n\r\n" not in data:
        raise AssertionError(f"no complete response, got {data[:200]!r}")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    return RawResponse(status=int(status_line.split()[1]), headers=headers, body=body)


def closed_by_server(sock: socket.socket) -> bool:
    """True if the server closed the connection: a read returns nothing or fails with a reset
    (the socket's timeout bounds the wait)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def _headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers
