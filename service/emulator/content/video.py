"""Shot boundaries and dominant colours from the picture, with bounded memory.

Each analysed frame is shrunk to a tiny thumbnail and summarised as a 64-bin colour histogram; a
cut is where the histogram jumps (a hard scene change moves much of the picture's colour, motion
within a scene moves little). Short videos are decoded fully and sampled SAMPLES_PER_S times a
second; long ones only at their keyframes (encoders put keyframes at scene changes), so decoding
stays quick and only one frame is held at a time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import av

FULL_DECODE_MAX_S = 300.0
SAMPLES_PER_S = 10
THUMB_W, THUMB_H = 32, 18
CUT_DISTANCE = 0.35  #: share of the colour histogram that must move for a cut
MIN_SHOT_S = 0.5
TOP_COLOURS = 3
MIN_COLOUR_SHARE = 0.05

Colour = tuple[str, float]  #: ("rrggbb", share of the picture)


@dataclass(frozen=True)
class VideoScan:
    """Cuts (seconds) and the dominant colours of each whole second."""

    cuts: tuple[float, ...]
    colours: tuple[tuple[Colour, ...], ...]


class _Tally:
    """Pixel counts and colour sums per histogram bin, for one second."""

    def __init__(self) -> None:
        self.count: defaultdict[int, int] = defaultdict(int)
        self.sums: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, pixels: list[tuple[int, int, int]]) -> None:
        for r, g, b in pixels:
            key = _bin(r, g, b)
            self.count[key] += 1
            total = self.sums[key]
            total[0] += r
            total[1] += g
            total[2] += b

    def dominant(self) -> tuple[Colour, ...]:
        n = sum(self.count.values())
        ranked = sorted(self.count, key=lambda k: -self.count[k])[:TOP_COLOURS]
        return tuple(
            (
                "".join(f"{round(c / self.count[k]):02x}" for c in self.sums[k]),
                round(self.count[k] / n, 3),
            )
            for k in ranked
            if self.count[k] / n >= MIN_COLOUR_SHARE
        )


def scan_video(path: Any, duration_s: float) -> VideoScan:
    """Scan the first video stream of a file."""
    keyframes_only = duration_s > FULL_DECODE_MAX_S
    cuts: list[float] = []
    # Only the current second's tally is open; earlier seconds are kept as their few colours.
    seconds: dict[int, tuple[Colour, ...]] = {}
    current: tuple[int, _Tally] | None = None
    previous: list[float] | None = None
    next_sample = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        base = stream.time_base
        start = float(stream.start_time * base) if stream.start_time and base else 0.0
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            t = max(frame.time - start, 0.0)
            if not keyframes_only and t + 1e-6 < next_sample:
                continue
            next_sample = (math.floor(t * SAMPLES_PER_S + 1e-6) + 1) / SAMPLES_PER_S
            pixels = _thumbnail(frame)
            histogram = _histogram(pixels)
            changed = previous is not None and _distance(previous, histogram) > CUT_DISTANCE
            if (
                changed
                and t - (cuts[-1] if cuts else 0.0) >= MIN_SHOT_S
                and t < duration_s - MIN_SHOT_S
            ):
                cuts.append(round(t, 3))
            previous = histogram
            if current is None or current[0] != int(t):
                if current is not None:
                    seconds[current[0]] = current[1].dominant()
                current = (int(t), _Tally())
            current[1].add(pixels)
    if current is not None:
        seconds[current[0]] = current[1].dominant()
    return VideoScan(tuple(cuts), _per_second(seconds, duration_s))


def _thumbnail(frame: Any) -> list[tuple[int, int, int]]:
    small = frame.reformat(width=THUMB_W, height=THUMB_H, format="rgb24")
    plane = small.planes[0]
    data = bytes(plane)
    pixels: list[tuple[int, int, int]] = []
    for y in range(THUMB_H):
        row = data[y * plane.line_size : y * plane.line_size + THUMB_W * 3]
        pixels.extend(zip(row[0::3], row[1::3], row[2::3], strict=True))
    return pixels


def _bin(r: int, g: int, b: int) -> int:
    return (r >> 6) << 4 | (g >> 6) << 2 | b >> 6


def _histogram(pixels: list[tuple[int, int, int]]) -> list[float]:
    counts = [0] * 64
    for r, g, b in pixels:
        counts[_bin(r, g, b)] += 1
    return [c / len(pixels) for c in counts]


def _distance(a: list[float], b: list[float]) -> float:
    """The share of the picture whose colour bin changed (half the L1 distance)."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / 2


def _per_second(
    seconds: dict[int, tuple[Colour, ...]], duration_s: float
) -> tuple[tuple[Colour, ...], ...]:
    # A second without an analysed frame (keyframes only) keeps the colours seen last.
    out: list[tuple[Colour, ...]] = []
    last: tuple[Colour, ...] = ()
    for second in range(max(1, math.ceil(duration_s))):
        last = seconds.get(second, last)
        out.append(last)
    return tuple(out)
