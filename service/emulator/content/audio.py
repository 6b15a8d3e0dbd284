"""Speech and silence from the first audio track, with bounded memory.

The track is resampled twice to mono: at 8 kHz (what lies below 4 kHz) and at 500 Hz (below
~250 Hz). Per 50 ms window, the energy of the first minus that of the second is the voice band's
(~250 Hz - 4 kHz): speech is where that band is loud enough, silence where everything is quiet.
Windows are judged as they are decoded; only the unjudged samples are held.
"""

from __future__ import annotations

import math
import operator
from array import array
from dataclasses import dataclass
from typing import Any

import av

RATE, LOW_RATE = 8000, 500
WINDOW_S = 0.05
VOICE_DBFS = -45.0
SILENCE_DBFS = -55.0
SPEECH_GAP_S = 0.35  #: pauses shorter than this stay inside one span of speech
MIN_SPEECH_S = 0.25
MIN_SILENCE_S = 1.0
_FULL_SCALE = 32768.0**2

Span = tuple[float, float]


@dataclass(frozen=True)
class AudioScan:
    """Spans of speech and of silence, in seconds."""

    speech: tuple[Span, ...]
    silence: tuple[Span, ...]


class _Windows:
    """Cuts the two resampled streams into aligned windows and judges each one."""

    def __init__(self) -> None:
        self.full, self.low = array("h"), array("h")
        self.voiced, self.silent = bytearray(), bytearray()
        self.size, self.low_size = round(RATE * WINDOW_S), round(LOW_RATE * WINDOW_S)

    def feed(self, full: list[Any], low: list[Any]) -> None:
        for frames, target in ((full, self.full), (low, self.low)):
            for frame in frames:
                target.frombytes(bytes(frame.planes[0])[: frame.samples * 2])
        n = min(len(self.full) // self.size, len(self.low) // self.low_size)
        for k in range(n):
            total = _energy(self.full[k * self.size : (k + 1) * self.size])
            below = _energy(self.low[k * self.low_size : (k + 1) * self.low_size])
            self.voiced.append(_dbfs(max(total - below, 0.0)) > VOICE_DBFS)
            self.silent.append(_dbfs(total) < SILENCE_DBFS)
        del self.full[: n * self.size]
        del self.low[: n * self.low_size]


def scan_audio(path: Any) -> AudioScan | None:
    """Scan the first audio stream of a file; None when it has none."""
    windows = _Windows()
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        full = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        low = av.AudioResampler(format="s16", layout="mono", rate=LOW_RATE)
        for frame in container.decode(stream):
            windows.feed(full.resample(frame), low.resample(frame))
        windows.feed(full.resample(None), low.resample(None))
    speech = _spans(windows.voiced, gap_s=SPEECH_GAP_S, min_s=MIN_SPEECH_S)
    silence = _spans(windows.silent, gap_s=0.0, min_s=MIN_SILENCE_S)
    return AudioScan(speech, silence)


def _energy(samples: array[int]) -> float:
    return sum(map(operator.mul, samples, samples)) / len(samples) if samples else 0.0


def _dbfs(energy: float) -> float:
    return 10 * math.log10(energy / _FULL_SCALE) if energy > 0 else -math.inf


def _spans(flags: bytearray, *, gap_s: float, min_s: float) -> tuple[Span, ...]:
    """Runs of set windows as (start, end) seconds, joined across short gaps, short ones dropped."""
    runs: list[list[float]] = []
    for index, flag in enumerate(flags):
        if not flag:
            continue
        start, end = index * WINDOW_S, (index + 1) * WINDOW_S
        if runs and start - runs[-1][1] <= gap_s + 1e-9:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return tuple((round(s, 3), round(e, 3)) for s, e in runs if e - s >= min_s - 1e-9)
