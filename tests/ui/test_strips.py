"""The media page's zoom windows and strip layout (pure functions)."""

from __future__ import annotations

import pytest

from service.search.schemas import TimelineItem
from service.search.views import MAX_TIMELINE_S
from service.ui import strips, windows
from service.ui.strips import BARS_WIDTH, BARS_X, clock, strip
from service.ui.windows import Window


def item(kind: str, label: str, start: float, end: float, c: float | None = 0.9) -> TimelineItem:
    return TimelineItem(type=kind, label=label, confidence=c, start=start, end=end)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (Window(0, 60), Window(15, 45)),
        (Window(100, 107), Window(101, 105)),
        (Window(10, 14), None),
    ],
)
def test_zoom_in_halves_around_the_middle(window: Window, expected: Window | None) -> None:
    assert windows.zoom_in(window) == expected


@pytest.mark.parametrize(
    ("window", "total", "expected"),
    [
        (Window(15, 45), 180.0, Window(0, 60)),
        (Window(150, 170), 180.0, Window(140, 180)),
        (Window(0, 400), 7200.0, Window(0, MAX_TIMELINE_S)),
        (Window(0, MAX_TIMELINE_S), 7200.0, None),
        (Window(0, 4), 4.0, None),
        (Window(0, 3), 3.2, Window(0, 4)),
    ],
)
def test_zoom_out_doubles_within_the_api_limit_and_the_media(
    window: Window, total: float, expected: Window | None
) -> None:
    assert windows.zoom_out(window, total) == expected


def test_panning_moves_by_a_window_and_stops_at_the_ends() -> None:
    assert windows.earlier(Window(0, 60)) is None
    assert windows.earlier(Window(30, 90)) == Window(0, 60)
    assert windows.later(Window(0, 60), 100.0) == Window(40, 100)
    assert windows.later(Window(40, 100), 100.0) is None
    assert windows.later(Window(0, 60), 200.5) == Window(60, 120)


def test_around_a_match_shows_it_with_context() -> None:
    assert windows.around(12.0, 18.0) == Window(7, 37)
    assert windows.around(2.0, 2.5) == Window(0, 30)
    assert windows.around(100.0, 2000.0) == Window(95, 95 + MAX_TIMELINE_S)


def test_segments_cut_the_media_into_windows_to_zoom_into() -> None:
    assert windows.segments(180.0, 60) == [Window(0, 60), Window(60, 120), Window(120, 180)]
    assert windows.segments(130.5, 60)[-1] == Window(120, 131)
    film = windows.segments(6816.4, 10)  # 10 s windows would make 682: rounder ones instead
    assert len(film) <= windows.MAX_SEGMENTS
    assert film[0] == Window(0, 120)
    assert film[-1].end == 6817
    assert len(windows.segments(40 * 3600.0, 60)) == 240  # never longer than the API allows


def test_clock() -> None:
    assert clock(0) == "0:00"
    assert clock(75.96) == "1:15"
    assert clock(75.96, precise=True) == "1:15.9"
    assert clock(6816.4) == "1:53:36"


def test_strip_draws_each_occurrence_where_it_happens() -> None:
    laid = strip(
        [item("visual.context", "car", 10, 20), item("visual.context", "car", 50, 50)],
        start=0,
        end=100,
    )

    (row,) = laid.rows
    assert (row.label, row.kind, row.covered_s) == ("car", "visual", 10.0)
    first, instant = row.bars
    assert (first.x, first.width) == pytest.approx((BARS_X + 0.1 * BARS_WIDTH, 0.1 * BARS_WIDTH))
    assert (instant.x, instant.width) == pytest.approx((BARS_X + 0.5 * BARS_WIDTH, 1.0))
    assert first.title == "car · 0:10.0\N{EN DASH}0:20.0 · confidence 0.90"


def test_close_occurrences_merge_and_overlaps_count_once() -> None:
    # Over two hours one drawing unit is ~7.4 s: occurrences 3 s apart are one bar.
    items = [item("visual.context", "sky", s, s + 10) for s in (0, 5, 13, 1000)]

    (row,) = strip(items, start=0, end=7200).rows

    assert len(row.bars) == 2
    assert "3 occurrences" in row.bars[0].title
    assert row.covered_s == 23 + 10


def test_rows_named_faces_first_then_by_time_covered_and_capped() -> None:
    items = [
        item("visual.context", "sky", 0, 50),
        item("visual.context", "car", 0, 20),
        item("human.face", "face", 0, 90),
        item("human.face", "Nora Example", 0, 1),
        item("audio.speech", "Hello there.", 2, 4, None),
        item("audio.speech", "Over here!", 6, 8, None),
        item("visual.text_region.lower_third", "text region", 0, 9),
        *(item("visual.context", f"thing {n}", 0, 1) for n in range(strips.MAX_ROWS)),
    ]

    laid = strip(items, start=0, end=100)

    labels = [row.label for row in laid.rows]
    assert labels[:4] == ["Nora Example", "unnamed face", "sky", "car"]
    assert len(labels) == strips.MAX_ROWS
    assert labels[4] == "text region"
    assert laid.more_rows == 6  # five of the things and the speech (ranked last) did not fit
    assert [row.y for row in laid.rows[:2]] == [0, strips.ROW_HEIGHT]


def test_speech_is_one_row_and_other_types_say_their_type() -> None:
    laid = strip(
        [
            item("audio.speech", "Hello there.", 2, 4, None),
            item("audio.speech", "Over here!", 60, 62, None),
            item("external.keyword.novelty_word", "harbour", 5, 6),
        ],
        start=0,
        end=100,
    )

    assert [(r.label, r.kind) for r in laid.rows] == [
        ("spoken words", "speech"),
        ("harbour (external.keyword.novelty_word)", "other"),
    ]
    assert laid.rows[0].bars[0].title == "0:02.0\N{EN DASH}0:04.0 “Hello there.”"


def test_overview_marks_the_window_the_marker_and_the_current_segment() -> None:
    segments = windows.segments(180.0, 60)

    laid = strip([], start=0, end=180, highlight=Window(60, 120), marker_s=90, segments=segments)

    assert laid.highlight == pytest.approx((BARS_X + BARS_WIDTH / 3, BARS_WIDTH / 3), abs=0.01)
    assert laid.marker_x == pytest.approx(BARS_X + BARS_WIDTH / 2, abs=0.01)
    assert [s.current for s in laid.segments] == [False, True, False]
    assert [t.label for t in laid.ticks] == [f"{m}:{s:02d}" for m in range(4) for s in (0, 30)][:7]
