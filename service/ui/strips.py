"""The media page's timeline strips: what the timeline API returns, laid out as SVG geometry.

One row per thing seen or heard (a concept, a face identity, all speech), its occurrences as
bars over the strip's time range. Bars closer than a drawing unit are merged, so a strip of a
whole film stays a few hundred shapes. The SVG is drawn by the template from these numbers
(no script, no inline style: the page's Content-Security-Policy forbids both).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from service.search.extraction import FACE_TYPE, SPEECH_TYPE
from service.search.schemas import TimelineItem
from service.ui.windows import Window

#: Geometry, in SVG user units (the SVG scales to the page's width).
WIDTH = 1200
LABEL_END = 214
BARS_X = 222
BARS_WIDTH = WIDTH - BARS_X - 12
ROW_HEIGHT = 20
BAR_HEIGHT = 14
AXIS_HEIGHT = 22
SEGMENTS_HEIGHT = 20
#: The same numbers for the template that draws the SVG.
GEOMETRY = {
    "width": WIDTH,
    "label_end": LABEL_END,
    "bars_x": BARS_X,
    "bars_width": BARS_WIDTH,
    "bar_top": (ROW_HEIGHT - BAR_HEIGHT) // 2,
    "bar_height": BAR_HEIGHT,
    "segments_height": SEGMENTS_HEIGHT,
}
#: The row of every speech segment (an audio.context label may be called "speech" too).
SPEECH_ROW = "spoken words"
UNNAMED_FACE = "unnamed face"
#: Rows drawn per strip; the rest are counted ("and N more"), the type filter finds them.
MAX_ROWS = 40
_TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    title: str


@dataclass(frozen=True)
class Row:
    type: str
    label: str
    #: The colour family: face, visual, audio, speech or other.
    kind: str
    #: Seconds covered within the strip's range (overlapping occurrences counted once).
    covered_s: float
    y: float
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Segment:
    """A window of the overview to zoom into."""

    window: Window
    x: float
    width: float
    current: bool


@dataclass(frozen=True)
class Strip:
    start: float
    end: float
    rows: list[Row]
    more_rows: int
    ticks: list[Tick]
    #: The zoomed window, drawn over the overview: (x, width).
    highlight: tuple[float, float] | None = None
    marker_x: float | None = None
    segments: list[Segment] = field(default_factory=list)

    @property
    def rows_height(self) -> int:
        return max(1, len(self.rows)) * ROW_HEIGHT

    @property
    def height(self) -> int:
        return self.rows_height + AXIS_HEIGHT + (SEGMENTS_HEIGHT + 4 if self.segments else 0)

    @property
    def segments_y(self) -> int:
        return self.rows_height + AXIS_HEIGHT


def clock(seconds: float, *, precise: bool = False) -> str:
    """`m:ss` or `h:mm:ss` (with tenths when `precise`)."""
    whole = math.floor(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if precise:
        text += f".{int((seconds - whole) * 10):d}"
    return text


def strip(
    items: Iterable[TimelineItem],
    *,
    start: float,
    end: float,
    highlight: Window | None = None,
    marker_s: float | None = None,
    segments: list[Window] | None = None,
    merge_units: float = 0.75,
) -> Strip:
    """Lay out `items` over [start, end): the rows that cover the most time, their bars,
    the time axis, and (for an overview) the zoom window and the segments to zoom into."""
    span = max(end - start, 1e-9)

    def x_of(second: float) -> float:
        return round(BARS_X + (min(max(second, start), end) - start) / span * BARS_WIDTH, 2)

    grouped: dict[tuple[str, str], list[TimelineItem]] = {}
    for item in items:
        grouped.setdefault(_row_key(item), []).append(item)
    # Occurrences closer than `merge_units` drawing units become one bar.
    gap = span / BARS_WIDTH * merge_units
    merged = {key: _merge(found, gap, start, end) for key, found in grouped.items()}
    ranked = sorted(
        merged.items(),
        key=lambda entry: (_RANK[entry[0][0]], entry[0][1] == UNNAMED_FACE, -entry[1][1]),
    )
    shown = [
        Row(
            type=grouped[(kind, label)][0].type,
            label=label,
            kind=kind,
            covered_s=round(covered, 3),
            y=index * ROW_HEIGHT,
            bars=[_bar(kind, label, run, x_of) for run in runs],
        )
        for index, ((kind, label), (runs, covered)) in enumerate(ranked[:MAX_ROWS])
    ]
    all_segments = segments or []
    return Strip(
        start=start,
        end=end,
        rows=shown,
        more_rows=max(0, len(ranked) - MAX_ROWS),
        ticks=[Tick(x_of(t), clock(t)) for t in _ticks(start, end)],
        highlight=(x_of(highlight.start), x_of(highlight.end) - x_of(highlight.start))
        if highlight is not None
        else None,
        marker_x=x_of(marker_s) if marker_s is not None and start <= marker_s <= end else None,
        segments=[
            Segment(w, x_of(w.start), x_of(w.end) - x_of(w.start), w == highlight)
            for w in all_segments
        ],
    )


_RANK = {"face": 0, "visual": 1, "audio": 2, "speech": 3, "other": 4}


def _row_key(item: TimelineItem) -> tuple[str, str]:
    if item.type == SPEECH_TYPE:
        return "speech", SPEECH_ROW
    if item.type == FACE_TYPE:
        return "face", item.label if item.label != "face" else UNNAMED_FACE
    family = item.type.split(".", 1)[0]
    kind = family if family in ("visual", "audio") and ".keyword" not in item.type else "other"
    return kind, f"{item.label} ({item.type})" if kind == "other" else item.label


@dataclass
class _Run:
    """Occurrences of one row drawn as one bar."""

    first: TimelineItem
    end: float
    count: int
    confidence: float | None


def _merge(
    items: list[TimelineItem], gap: float, start: float, end: float
) -> tuple[list[_Run], float]:
    """The row's bars, and the seconds of [start, end) it covers (overlaps counted once)."""
    runs: list[_Run] = []
    covered, reach = 0.0, start
    for item in sorted(items, key=lambda i: (i.start, i.end)):
        low, high = max(item.start, reach), min(item.end, end)
        if high > low:
            covered += high - low
            reach = high
        confidence = item.confidence
        if runs and item.start <= runs[-1].end + gap:
            run = runs[-1]
            run.end, run.count = max(run.end, item.end), run.count + 1
            if confidence is not None:
                run.confidence = max(confidence, run.confidence or confidence)
        else:
            runs.append(_Run(item, item.end, 1, confidence))
    return runs, covered


def _bar(kind: str, label: str, run: _Run, x_of: Callable[[float], float]) -> Bar:
    x = x_of(run.first.start)
    when = f"{clock(run.first.start, precise=True)}\N{EN DASH}{clock(run.end, precise=True)}"
    if kind == "speech":
        said = run.first.label + (f" … ({run.count} segments)" if run.count > 1 else "")
        title = f"{when} “{said}”"
    else:
        parts = [label, when]
        if run.count > 1:
            parts.append(f"{run.count} occurrences")
        if run.confidence is not None:
            parts.append(f"confidence {run.confidence:.2f}")
        title = " · ".join(parts)
    return Bar(x, round(max(x_of(run.end) - x, 1.0), 2), title)


def _ticks(start: float, end: float) -> list[float]:
    span = end - start
    step = next((s for s in _TICK_STEPS_S if span / s <= 10), _TICK_STEPS_S[-1] * 2)
    first = math.ceil(start / step) * step
    return [float(t) for t in range(int(first), int(end) + 1, step)]
