"""Speech-to-text subtitle files (SRT, WebVTT, TTML, Avid DS) made from a core document's speech."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

Cue = tuple[float, float, str]


def speech_cues(doc: Mapping[str, Any]) -> list[Cue]:
    """The audio.speech segments of a core document, in time order, as (start, end, text)."""
    ids = doc["detection_groupings"]["by_detection_type"].get("audio.speech", [])
    cues = []
    for det_id in ids:
        detection = doc["detections"][det_id]
        occ = detection["occs"][0]
        cues.append((occ["ss"], occ["se"], detection["label"]))
    return cues


def _clock(t: float, separator: str) -> str:
    millis = round(t * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def to_srt(cues: list[Cue]) -> str:
    """SubRip text."""
    return "".join(
        f"{n}\n{_clock(ss, ',')} --> {_clock(se, ',')}\n{text}\n\n"
        for n, (ss, se, text) in enumerate(cues, start=1)
    )


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT text."""
    body = "".join(f"{_clock(ss, '.')} --> {_clock(se, '.')}\n{text}\n\n" for ss, se, text in cues)
    return "WEBVTT\n\n" + body


def to_ttml(cues: list[Cue], language: str) -> str:
    """TTML (W3C Timed Text) document."""
    paragraphs = "".join(
        f'      <p begin="{_clock(ss, ".")}" end="{_clock(se, ".")}">{escape(text)}</p>\n'
        for ss, se, text in cues
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<tt xmlns="http://www.w3.org/ns/ttml" xml:lang="{escape(language)}">\n'
        f"  <body>\n    <div>\n{paragraphs}    </div>\n  </body>\n</tt>\n"
    )


def _timecode(t: float, fps: int) -> str:
    frames = round(t * fps)
    seconds, frame = divmod(frames, fps)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours:02d}:{minute:02d}:{second:02d}:{frame:02d}"


def to_avid_txt(cues: list[Cue], fps: float) -> str:
    """Avid DS caption text, with frame-based timecodes."""
    rate = max(1, round(fps))
    body = "".join(
        f"{_timecode(ss, rate)} {_timecode(se, rate)}\n{text}\n\n" for ss, se, text in cues
    )
    return (
        "@ This file written with the Avid Caption plugin, version 1\n\n"
        f"<begin subtitles>\n\n{body}<end subtitles>\n"
    )
