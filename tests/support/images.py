"""Real images for tests: PNGs with a face-like region or none (PyAV encodes them), and tiny
PNG/JPEG files of any declared size for header checks."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av

Rgb = tuple[int, int, int]
SKIN: Rgb = (224, 172, 140)
BACKGROUND: Rgb = (40, 90, 170)


def encode_png(width: int, height: int, paint: Callable[[int, int], Rgb]) -> bytes:
    """Encode a picture, `paint(x, y)` giving each pixel's colour, as PNG bytes."""
    return _encode("png", "rgb24", _frame(width, height, paint))


def encode_jpeg(width: int, height: int, paint: Callable[[int, int], Rgb]) -> bytes:
    """Encode a picture, `paint(x, y)` giving each pixel's colour, as JPEG bytes."""
    frame = _frame(width, height, paint).reformat(format="yuvj420p")
    return _encode("mjpeg", "yuvj420p", frame)


def _encode(codec_name: str, pix_fmt: str, frame: Any) -> bytes:
    codec: Any = av.CodecContext.create(codec_name, "w")
    codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, pix_fmt
    codec.time_base = Fraction(1, 25)
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


def _frame(width: int, height: int, paint: Callable[[int, int], Rgb]) -> Any:
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    rows = bytearray()
    for y in range(height):
        row = b"".join(bytes(paint(x, y)) for x in range(width))
        rows += row + bytes(plane.line_size - len(row))
    plane.update(bytes(rows))
    return frame


def face_png(
    width: int = 96, height: int = 128, *, skin: Rgb = SKIN, features: bool = True
) -> bytes:
    """A cartoon face: a skin-toned oval with dark eyes and mouth (unless not `features`) on a
    blue background."""
    return encode_png(width, height, _face(width, height, skin=skin, features=features))


def face_jpeg(width: int = 96, height: int = 128) -> bytes:
    """The cartoon face of face_png, as a JPEG."""
    return encode_jpeg(width, height, _face(width, height, skin=SKIN, features=True))


def _face(width: int, height: int, *, skin: Rgb, features: bool) -> Callable[[int, int], Rgb]:

    def paint(x: int, y: int) -> Rgb:
        u, v = (x - width / 2) / (width * 0.38), (y - height / 2) / (height * 0.42)
        if u * u + v * v > 1:
            return BACKGROUND
        if not features:
            return skin
        for ex, ey in ((-0.4, -0.3), (0.4, -0.3)):
            if (u - ex) ** 2 + (v - ey) ** 2 < 0.02:
                return (30, 20, 20)
        if abs(u) < 0.35 and 0.35 < v < 0.45:
            return (90, 30, 30)
        return skin

    return paint


def plain_png(colour: Rgb, width: int = 64, height: int = 64) -> bytes:
    """An image of one colour."""
    return encode_png(width, height, lambda x, y: colour)


def stripes_png(width: int = 64, height: int = 64) -> bytes:
    """Blue and green stripes: contrast, but no skin tone anywhere."""
    return encode_png(width, height, lambda x, y: (20, 160, 60) if x // 8 % 2 else BACKGROUND)


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size (rows compress to almost nothing)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int, *, padding: int = 0) -> bytes:
    """A JPEG header: SOI, an APP0 segment (with `padding` extra bytes), then SOF0 with the
    size and an empty scan; enough for any header reader."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * padding
    sof = struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + b"\xff\xc0"
        + sof
        + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
        + b"\xff\xd9"
    )
