"""add_face_image's check that an image shows a face, a simple stand-in for face detection.

Valossa answers with an error unless exactly one face is clearly visible. The emulator has no
face detector; it refuses what surely has no face: an image that does not decode, a blank or
uniform one, a colour image without a skin-toned region, or a skin-toned region without darker
features (eyes, brows, mouth) inside it. Greyscale images are judged by contrast only.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import av

SIDE = 64  #: images are judged on a SIDE x SIDE thumbnail
UNIFORM_STD = 6.0  #: luma standard deviation below which an image is blank
GREY_CHROMA = 6  #: chroma within this of neutral everywhere: a greyscale image
MIN_SKIN_SHARE = 0.02
MIN_FEATURE_SHARE = 0.004
FEATURE_DARKER = 25.0  #: how much darker than the skin a feature pixel is

Pixel = tuple[int, int, int]


def face_problem(path: Path) -> str | None:
    """Why the image cannot be a face image, or None when it may show one."""
    pixels = _thumbnail(path)
    if pixels is None:
        return "the image could not be decoded"
    ycc = [_ycbcr(p) for p in pixels]
    if statistics.pstdev(y for y, _, _ in ycc) < UNIFORM_STD:
        return "the image is blank or of one uniform colour"
    if all(abs(cb - 128) <= GREY_CHROMA and abs(cr - 128) <= GREY_CHROMA for _, cb, cr in ycc):
        return None
    skin = [_is_skin(y, cb, cr) for y, cb, cr in ycc]
    if sum(skin) < MIN_SKIN_SHARE * len(skin):
        return "no skin-toned region was found"
    skin_luma = statistics.fmean(y for (y, _, _), s in zip(ycc, skin, strict=True) if s)
    if _features(ycc, skin, skin_luma) < MIN_FEATURE_SHARE * sum(skin):
        return "the skin-toned region has no facial features (eyes, mouth)"
    return None


def _thumbnail(path: Path) -> list[Pixel] | None:
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            small = frame.reformat(width=SIDE, height=SIDE, format="rgb24")
    except (av.FFmpegError, OSError, StopIteration, ValueError):
        return None
    plane = small.planes[0]
    data = bytes(plane)
    rows = (data[y * plane.line_size : y * plane.line_size + SIDE * 3] for y in range(SIDE))
    return [(row[x], row[x + 1], row[x + 2]) for row in rows for x in range(0, SIDE * 3, 3)]


def _ycbcr(pixel: Pixel) -> tuple[float, float, float]:
    r, g, b = pixel
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return (
        y,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )


def _is_skin(y: float, cb: float, cr: float) -> bool:
    # The classic YCbCr skin box (Chai and Ngan), which holds light and dark skin alike.
    return y > 40 and 77 <= cb <= 127 and 133 <= cr <= 173


def _features(ycc: list[tuple[float, float, float]], skin: list[bool], skin_luma: float) -> int:
    """Darker non-skin pixels that have skin on both sides in their row (holes in the face)."""
    count = 0
    for row in range(SIDE):
        cells = range(row * SIDE, (row + 1) * SIDE)
        inside = [i for i in cells if skin[i]]
        if len(inside) < 2:
            continue
        for i in range(inside[0] + 1, inside[-1]):
            if not skin[i] and ycc[i][0] < skin_luma - FEATURE_DARKER:
                count += 1
    return count
