"""Speech segments from a stored SubRip (SRT) result, read line by line as its bytes arrive."""

from __future__ import annotations

import codecs
import re

from service.search.extraction import SpeechRow
from service.text import scrub

_TIMING = re.compile(
    r"(?P<h1>\d+):(?P<m1>\d{1,2}):(?P<s1>\d{1,2})[,.](?P<f1>\d{1,3})\s*-->\s*"
    r"(?P<h2>\d+):(?P<m2>\d{1,2}):(?P<s2>\d{1,2})[,.](?P<f2>\d{1,3})"
)


class SrtReader:
    """Feed SRT bytes in order with `feed`; finished cues collect in `segments`."""

    def __init__(self) -> None:
        self.segments: list[SpeechRow] = []
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._pending = ""
        self._timing: tuple[float, float] | None = None
        self._lines: list[str] = []

    def feed(self, data: bytes) -> None:
        """Read the next piece; whole lines are parsed, a partial line waits for the rest."""
        self._pending += self._decoder.decode(data)
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._line(line.rstrip("\r"))

    def close(self) -> None:
        """End of file: the last cue needs no blank line after it."""
        self._pending += self._decoder.decode(b"", final=True)
        if self._pending:
            self._line(self._pending.rstrip("\r"))
        self._end_cue()

    def _line(self, raw: str) -> None:
        line = scrub(raw)  # a NUL byte decodes to U+0000, which Postgres text cannot hold
        timing = _TIMING.search(line)
        if timing is not None:
            self._end_cue()
            self._timing = _seconds(timing, "1"), _seconds(timing, "2")
        elif not line.strip():
            self._end_cue()
        elif self._timing is not None:
            self._lines.append(line.strip())

    def _end_cue(self) -> None:
        if self._timing is not None and self._lines:
            start, end = self._timing
            if end >= start:
                self.segments.append(SpeechRow(start, end, " ".join(self._lines)))
        self._timing = None
        self._lines = []


def _seconds(match: re.Match[str], n: str) -> float:
    fraction = match.group(f"f{n}").ljust(3, "0")
    return round(
        int(match.group(f"h{n}")) * 3600
        + int(match.group(f"m{n}")) * 60
        + int(match.group(f"s{n}"))
        + int(fraction) / 1000,
        3,
    )
