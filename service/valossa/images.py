"""Check an image against upload_image's documented limits before sending it."""

from __future__ import annotations

import struct

from service.valossa.training_models import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"
#: JPEG start-of-frame markers (baseline, progressive, lossless...), which carry the size.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_content_type(data: bytes) -> str:
    """The MIME type of a JPG or PNG image within Valossa's limits; ValueError otherwise."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"image is {len(data)} bytes; Valossa accepts at most {MAX_IMAGE_BYTES}")
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        content_type = "image/png"
    elif data.startswith(_JPEG_SOI):
        width, height = _jpeg_size(data)
        content_type = "image/jpeg"
    else:
        raise ValueError("image must be JPG or PNG")
    if width > MAX_IMAGE_PIXELS or height > MAX_IMAGE_PIXELS:
        raise ValueError(f"image is {width}x{height}; the maximum is {MAX_IMAGE_PIXELS} per side")
    return content_type


def _jpeg_size(data: bytes) -> tuple[int, int]:
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            position += 1
            continue
        marker = data[position + 1]
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker == 0xFF or 0xD0 <= marker <= 0xD9 or marker == 0x01:
            position += 2  # markers without a length field
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    # No frame header found: let Valossa judge the image rather than refuse it here.
    return 0, 0
