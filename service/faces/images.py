"""A training image checked against Valossa's rules before any call: JPG or PNG by its real
header, at most 8 MiB and 4096x4096 pixels, and no file that claims to be what it is not."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from service.valossa.training_models import MAX_IMAGE_BYTES as MAX_IMAGE_BYTES
from service.valossa.training_models import MAX_IMAGE_PIXELS

ImageFormat = Literal["jpeg", "png"]

CONTENT_TYPES: dict[ImageFormat, str] = {"jpeg": "image/jpeg", "png": "image/png"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
#: Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_JPEG_START_OF_SCAN = 0xDA
#: What a declared content type or file extension claims the bytes are (None: no claim).
_CLAIMED_BY_TYPE: dict[str, str] = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/heic": "heic",
    "image/avif": "avif",
}
_CLAIMED_BY_SUFFIX: dict[str, str] = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
    ".png": "png",
    ".gif": "gif",
    ".webp": "webp",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".heic": "heic",
    ".avif": "avif",
}


class ImageRefused(ValueError):
    """The image breaks one of Valossa's rules or lies about what it is; the message says which."""


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed every check, with what its header says."""

    data: bytes
    filename: str
    format: ImageFormat
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def check_image(data: bytes, *, filename: str, declared_type: str | None = None) -> CheckedImage:
    """Check an image's size, real format and pixel size; ImageRefused with the reason."""
    if not data:
        raise ImageRefused("the image file is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(
            f"the image is {len(data)} bytes; Valossa accepts at most {MAX_IMAGE_BYTES} (8 MiB)"
        )
    image_format, width, height = read_header(data)
    if width == 0 or height == 0:
        raise ImageRefused(f"the image header says {width}x{height} pixels")
    if width > MAX_IMAGE_PIXELS or height > MAX_IMAGE_PIXELS:
        raise ImageRefused(
            f"the image is {width}x{height} pixels; Valossa accepts at most "
            f"{MAX_IMAGE_PIXELS}x{MAX_IMAGE_PIXELS}"
        )
    claims = {
        "its content type": _CLAIMED_BY_TYPE.get((declared_type or "").split(";")[0].strip()),
        "its file name": _CLAIMED_BY_SUFFIX.get(PurePath(filename).suffix.lower()),
    }
    for source, claimed in claims.items():
        if claimed is not None and claimed != image_format:
            raise ImageRefused(
                f"{source} says {claimed.upper()} but the bytes are a {image_format.upper()} image"
            )
    return CheckedImage(data, filename, image_format, width, height)


def read_header(data: bytes) -> tuple[ImageFormat, int, int]:
    """The format and pixel size from a PNG or JPEG header; ImageRefused for anything else."""
    if data.startswith(_PNG_SIGNATURE):
        # The first chunk must be a 13-byte IHDR: width and height are big-endian uint32.
        if len(data) < 24 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
            raise ImageRefused("the file starts like a PNG but has no IHDR header")
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(_JPEG_SIGNATURE):
        width, height = _jpeg_size(data)
        return "jpeg", width, height
    raise ImageRefused("the file is not a JPG or PNG image (Valossa accepts only those)")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ImageRefused("the JPG file has a corrupt header")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker == _JPEG_START_OF_SCAN:
            break
        if marker in _JPEG_SOF:
            if position + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2:
            raise ImageRefused("the JPG file has a corrupt header")
        position += 2 + length
    raise ImageRefused("the JPG file has no frame header with the image size")
