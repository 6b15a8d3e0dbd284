"""Assembles detections, occurrence ids, shots and the detection groupings of a core document."""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Detection types listed chronologically in by_detection_type instead of by prominence.
CHRONOLOGICAL_TYPES = frozenset({"audio.speech", "audio.speech_detailed"})

# by_second entries of one second come in this type order in the real file.
_SECOND_ORDER = (
    "human.face",
    "transcript.",
    "audio.keyword.",
    "human.face_group",
    "visual.",
    "audio.",
)


@dataclass(frozen=True)
class Occ:
    """An occurrence before it gets an id: start, end and (for some types) its max confidence."""

    ss: float
    se: float
    c_max: float | None = None


@dataclass
class Shots:
    """Contiguous detected shots and their start times, for shot index lookups."""

    items: list[dict[str, Any]]
    starts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.starts = [shot["ss"] for shot in self.items]

    def index_at(self, t: float, *, end: bool = False) -> int:
        """Index of the shot holding time t (an end on a boundary belongs to the earlier shot)."""
        pos = bisect.bisect_left(self.starts, t) if end else bisect.bisect_right(self.starts, t)
        return min(max(pos - 1, 0), len(self.items) - 1)


def make_shots(duration_s: float, fps: float, rng: random.Random) -> Shots:
    """Cut the video into contiguous shots of realistic lengths (about 6 s on average)."""
    n_frames_total = max(1, round(duration_s * fps))
    starts = []
    fs = 0
    while fs < n_frames_total:
        starts.append(fs)
        length_s = min(max(rng.lognormvariate(1.3, 0.9), 0.4), 60.0)
        fs += max(1, round(length_s * fps))
        if n_frames_total - fs < fps / 2:  # a sliver at the end joins the last shot
            break
    return _shots(starts, n_frames_total, fps)


def shots_from_cuts(duration_s: float, fps: float, cuts: Sequence[float]) -> Shots:
    """Shots between the cuts (seconds) found in the video itself."""
    n_frames_total = max(1, round(duration_s * fps))
    starts = sorted({0, *(round(cut * fps) for cut in cuts)} & set(range(n_frames_total)))
    return _shots(starts, n_frames_total, fps)


def _shots(starts: Sequence[int], n_frames_total: int, fps: float) -> Shots:
    frame = 1 / fps
    items: list[dict[str, Any]] = []
    for fs, nxt in zip(starts, [*starts[1:], n_frames_total], strict=True):
        fe = nxt - 1
        ss = round(fs * frame, 3) if items else 0.0
        se = round((fe + 1) * frame, 3)
        items.append({"ss": ss, "se": se, "fs": fs, "fe": fe, "sdur": round(se - ss, 3)})
    return Shots(items)


class CoreBuilder:
    """Collects detections in Valossa's shape, numbering detections and occurrences file-wide."""

    def __init__(self, duration_s: float, shots: Shots, rng: random.Random) -> None:
        self.duration_s = duration_s
        self.shots = shots
        self.rng = rng
        self.detections: dict[str, dict[str, Any]] = {}
        self.second_attributes: dict[str, list[dict[str, Any]]] = {}  #: by_second "a", per second
        self._prominence: dict[str, float] = {}
        self._next_occ = 1

    def add(
        self,
        t: str,
        label: str,
        occs: Sequence[Occ] | None,
        *,
        prominence: float = 0.0,
        **fields: Any,
    ) -> str:
        """Add a detection (occs None for video-level types) and return its id."""
        det_id = str(len(self.detections) + 1)
        detection: dict[str, Any] = {"t": t, "label": label, **fields}
        if occs is not None:
            detection["occs"] = [self._occurrence(o) for o in sorted(occs, key=lambda o: o.ss)]
        self.detections[det_id] = detection
        self._prominence[det_id] = prominence
        return det_id

    def _occurrence(self, occ: Occ) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(self._next_occ), "ss": occ.ss, "se": occ.se}
        self._next_occ += 1
        if occ.c_max is not None:
            out["c_max"] = occ.c_max
        out["shs"] = self.shots.index_at(occ.ss)
        out["she"] = max(out["shs"], self.shots.index_at(occ.se, end=True))
        return out

    def by_detection_type(self) -> dict[str, list[str]]:
        """Detection ids per type: most prominent first, speech types chronological."""
        groups: dict[str, list[str]] = defaultdict(list)
        for det_id, detection in self.detections.items():
            groups[detection["t"]].append(det_id)
        for t, ids in groups.items():
            if t in CHRONOLOGICAL_TYPES:
                ids.sort(key=lambda d: self.detections[d]["occs"][0]["ss"])
            else:
                ids.sort(key=lambda d: -self._prominence[d])
        return dict(groups)

    def by_second(self) -> list[list[dict[str, Any]]]:
        """For each second, the occurrences overlapping [i, i+1), per detection."""
        seconds: list[list[dict[str, Any]]] = [[] for _ in range(math.ceil(self.duration_s))]
        for det_id, detection in sorted(self.detections.items(), key=_second_order):
            covering: dict[int, list[dict[str, Any]]] = defaultdict(list)
            peaks = set()
            for occ in detection.get("occs", ()):
                peaks.add(math.floor(occ["ss"]))
                for i in range(math.floor(occ["ss"]), math.ceil(occ["se"])):
                    covering[i].append(occ)
            for i, occs in covering.items():
                entry: dict[str, Any] = {"d": det_id, "o": [o["id"] for o in occs]}
                c_max = max((o["c_max"] for o in occs if "c_max" in o), default=None)
                if c_max is not None:
                    # The per-second confidence peaks at the occurrence's c_max.
                    entry["c"] = c_max if i in peaks else round(self.rng.uniform(0.5, c_max), 3)
                attributes = self.second_attributes.get(det_id, [])
                if i < len(attributes) and attributes[i]:
                    entry["a"] = attributes[i]
                seconds[i].append(entry)
        return seconds


def _second_order(item: tuple[str, dict[str, Any]]) -> tuple[int, int]:
    det_id, detection = item
    rank = next(
        (n for n, prefix in enumerate(_SECOND_ORDER) if _type_matches(detection["t"], prefix)),
        len(_SECOND_ORDER),
    )
    return rank, int(det_id)


def _type_matches(t: str, pattern: str) -> bool:
    return t.startswith(pattern) if pattern.endswith(".") else t == pattern
