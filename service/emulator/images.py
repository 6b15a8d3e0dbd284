"""Training images: format by magic bytes and pixel size read from the PNG or JPEG header."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
#: Start-of-frame markers carry the image size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Markers that stand alone, without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


@dataclass(frozen=True)
class ImageInfo:
    """What the header of an accepted image says."""

    format: Literal["jpeg", "png"]
    width: int
    height: int


def read_image_header(data: bytes) -> ImageInfo:
    """Identify a JPG or PNG and read its size; ValueError with the reason otherwise."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(JPEG_SIGNATURE):
        return _jpeg(data)
    raise ValueError("the image must be in the JPG or PNG format")


def _png(data: bytes) -> ImageInfo:
    # The first chunk must be IHDR: length, type, then width and height as big-endian uint32.
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ValueError("the PNG file has no IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    return ImageInfo("png", width, height)


def _jpeg(data: bytes) -> ImageInfo:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("the JPG file has a corrupt header")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageInfo("jpeg", width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows, no size seen
            break
        pos += 2 + length
    raise ValueError("the JPG file has no frame header with the image size")
