"""Real PNG images for Training API tests: one that shows a face-like region, and plain ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import av

Rgb = tuple[int, int, int]
SKIN: Rgb = (224, 172, 140)
BACKGROUND: Rgb = (40, 90, 170)


def encode_png(width: int, height: int, paint: Callable[[int, int], Rgb]) -> bytes:
    """Encode a picture, `paint(x, y)` giving each pixel's colour, as PNG bytes."""
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    rows = bytearray()
    for y in range(height):
        row = b"".join(bytes(paint(x, y)) for x in range(width))
        rows += row + bytes(plane.line_size - len(row))
    plane.update(bytes(rows))
    codec: Any = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "rgb24"
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


def face_png(
    width: int = 96, height: int = 128, *, skin: Rgb = SKIN, features: bool = True
) -> bytes:
    """A cartoon face: a skin-toned oval with dark eyes and mouth (unless not `features`) on a
    blue background."""

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

    return encode_png(width, height, paint)


def plain_png(colour: Rgb, width: int = 64, height: int = 64) -> bytes:
    """An image of one colour."""
    return encode_png(width, height, lambda x, y: colour)


def stripes_png(width: int = 64, height: int = 64) -> bytes:
    """Blue and green stripes: contrast, but no skin tone anywhere."""
    return encode_png(width, height, lambda x, y: (20, 160, 60) if x // 8 % 2 else BACKGROUND)
