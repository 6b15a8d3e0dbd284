"""Time windows of the media page's zoomed timeline, within what the timeline API allows.

A window is whole seconds [start, end), at most MAX_TIMELINE_S long (the timeline API's
limit), inside the media's duration. Zooming halves or doubles it around its middle; panning
moves it by its own length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.search.views import MAX_TIMELINE_S

#: The narrowest window zooming in reaches.
MIN_WINDOW_S = 4
#: At most this many overview segments (each a window to zoom into) unless windows are capped.
MAX_SEGMENTS = 60
_NICE_S = (5, 10, 15, 20, 30, 60, 90, 120, 180, 240, 300, 360, 480, 600)


@dataclass(frozen=True)
class Window:
    """Whole seconds [start, end) of a media."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def covers(self, second: float) -> bool:
        return self.start <= second < self.end


def last_second(total_s: float) -> int:
    """The end of the last window of a media `total_s` long."""
    return max(1, math.ceil(total_s))


def zoom_in(window: Window) -> Window | None:
    """Half as long, around the same middle; None when already at MIN_WINDOW_S."""
    if window.length <= MIN_WINDOW_S:
        return None
    length = max(MIN_WINDOW_S, window.length // 2)
    start = window.start + (window.length - length) // 2
    return Window(start, start + length)


def zoom_out(window: Window, total_s: float) -> Window | None:
    """Twice as long (at most MAX_TIMELINE_S and the media), around the same middle."""
    last = last_second(total_s)
    length = min(MAX_TIMELINE_S, window.length * 2, last)
    if length <= window.length:
        return None
    start = max(0, min(window.start - (length - window.length) // 2, last - length))
    return Window(start, start + length)


def earlier(window: Window) -> Window | None:
    """The window before this one, as long; None at the start of the media."""
    if window.start <= 0:
        return None
    start = max(0, window.start - window.length)
    return Window(start, start + window.length)


def later(window: Window, total_s: float) -> Window | None:
    """The window after this one, as long (the last one ends with the media); None at the end."""
    last = last_second(total_s)
    if window.end >= last:
        return None
    start = max(window.start + 1, min(window.end, last - window.length))
    return Window(start, min(start + window.length, last))


def around(start_s: float, end_s: float) -> Window:
    """A window showing the time range [start_s, end_s] with a little context before it."""
    length = min(MAX_TIMELINE_S, max(30, math.ceil(end_s - start_s) + 10))
    start = max(0, math.floor(start_s) - 5)
    return Window(start, start + length)


def segments(total_s: float, length: int) -> list[Window]:
    """The media cut into windows to zoom into: the current window's length when that makes at
    most MAX_SEGMENTS of them, else a rounder, longer one (never more than MAX_TIMELINE_S)."""
    last = last_second(total_s)
    if math.ceil(last / length) > MAX_SEGMENTS:
        wanted = last / MAX_SEGMENTS
        length = next((nice for nice in _NICE_S if nice >= wanted), MAX_TIMELINE_S)
    return [Window(start, min(start + length, last)) for start in range(0, last, length)]
