"""The image check that runs before any Valossa call: real headers, limits, no lies."""

from __future__ import annotations

import struct

import pytest

from service.faces.images import ImageRefused, check_image
from tests.support.images import jpeg, png


def _progressive_jpeg(width: int, height: int) -> bytes:
    # Fill bytes and a restart marker before an SOF2 (progressive) frame header.
    sof2 = b"\xff\xc2" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xff\xd0" + sof2 + b"\xff\xda\x00\x02\xff\xd9"


@pytest.mark.parametrize(
    ("data", "filename", "declared", "expected"),
    [
        (png(4096, 1), "a.PNG", "image/png", ("png", 4096, 1)),
        (jpeg(1, 4096), "a.JPEG", "image/jpg", ("jpeg", 1, 4096)),
        (jpeg(640, 480, padding=300), "camera-upload", None, ("jpeg", 640, 480)),
        (_progressive_jpeg(800, 600), "p.jpe", "image/pjpeg; q=1", ("jpeg", 800, 600)),
        (png(2, 3), "no-claim.bin", "application/octet-stream", ("png", 2, 3)),
    ],
)
def test_accepted_images(
    data: bytes, filename: str, declared: str | None, expected: tuple[str, int, int]
) -> None:
    checked = check_image(data, filename=filename, declared_type=declared)
    assert (checked.format, checked.width, checked.height) == expected
    assert checked.content_type == f"image/{expected[0]}"


@pytest.mark.parametrize(
    ("data", "filename", "declared", "reason"),
    [
        (png(10, 10), "x.webp", None, "its file name says WEBP but the bytes are a PNG"),
        (jpeg(10, 10), "x.jpg", "image/gif", "its content type says GIF but the bytes are a JPEG"),
        (png(0, 10), "x.png", None, "0x10 pixels"),
        (b"\xff\xd8\xff\xe0\x00\x01", "x.jpg", None, "corrupt header"),
        (b"\xff\xd8\xff\xda\x00\x02", "x.jpg", None, "no frame header"),
        (b"BM" + b"\x00" * 60, "x.bmp", None, "not a JPG or PNG"),
        (png(1, 1) + b"\x00" * (8 * 1024 * 1024), "x.png", None, "at most 8388608"),
    ],
)
def test_refused_images(data: bytes, filename: str, declared: str | None, reason: str) -> None:
    with pytest.raises(ImageRefused, match=reason):
        check_image(data, filename=filename, declared_type=declared)
