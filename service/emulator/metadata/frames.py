"""Box-level results derived from a core document: seconds_objects, frames_objects, frames_faces."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from typing import Any

SECONDS_OBJECTS_FORMAT = "1.0.2"
FRAMES_OBJECTS_FORMAT = "1.0.0"
FRAMES_FACES_FORMAT = "1.0.3"


class _Mover:
    """A box that drifts smoothly over the frame; one per detection, seeded by the job."""

    def __init__(self, rng: random.Random, size: tuple[float, float]) -> None:
        self.w = rng.uniform(*size)
        self.h = self.w * rng.uniform(0.8, 1.3)
        self.x0 = rng.uniform(0, 1 - self.w)
        self.y0 = rng.uniform(0, 1 - self.h)
        self.phase = rng.uniform(0, math.tau)

    def at(self, t: float) -> dict[str, float]:
        """The box at time t, always inside the frame."""
        dx = 0.03 * math.sin(t / 3 + self.phase)
        dy = 0.02 * math.cos(t / 4 + self.phase)
        x = min(max(self.x0 + dx, 0.0), 1 - self.w)
        y = min(max(self.y0 + dy, 0.0), 1 - self.h)
        return {"x": round(x, 3), "y": round(y, 3), "w": round(self.w, 3), "h": round(self.h, 3)}


def _header(metadata_type: str, metadata_format: str, core: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "version_info": {
            "metadata_type": metadata_type,
            "metadata_format": metadata_format,
            "backend": core["version_info"]["backend"],
        },
        "job_info": {"job_id": core["job_info"]["job_id"]},
    }


def _ids_of(core: Mapping[str, Any], t: str) -> list[str]:
    ids: list[str] = core["detection_groupings"]["by_detection_type"].get(t, [])
    return ids


def seconds_objects(core: Mapping[str, Any], seed: int) -> dict[str, Any] | None:
    """Logo boxes per second, pointing at the core's visual.object.localized detections."""
    logos = set(_ids_of(core, "visual.object.localized"))
    if not logos:
        return None
    rng = random.Random(seed ^ 0x5EC0)
    movers = {d: _Mover(rng, (0.05, 0.15)) for d in sorted(logos, key=int)}
    by_second = [
        [
            {"d": e["d"], "o": e["o"], "b": [{**movers[e["d"]].at(i), "c": e.get("c", 0.9)}]}
            for e in second
            if e["d"] in logos
        ]
        for i, second in enumerate(core["detection_groupings"]["by_second"])
    ]
    return {
        **_header("seconds_objects", SECONDS_OBJECTS_FORMAT, core),
        "objects_by_second": by_second,
    }


def _per_frame_json(
    core: Mapping[str, Any], t: str, fps: float, size: tuple[float, float], seed: int
) -> str | None:
    """The per-frame array as JSON text, or None if the core has no detection of type t."""
    ids = _ids_of(core, t)
    if not ids:
        return None
    rng = random.Random(seed)
    n_frames = math.ceil(core["media_info"]["technical"]["duration_s"] * fps)
    frames: list[list[str]] = [[] for _ in range(n_frames)]
    for det_id in sorted(ids, key=int):
        mover = _Mover(rng, size)
        for occ in core["detections"][det_id]["occs"]:
            # Boxes move once a second; serialising each once keeps a two-hour film fast.
            texts: dict[int, str] = {}
            first, end = math.ceil(occ["ss"] * fps), min(math.ceil(occ["se"] * fps), n_frames)
            for frame in range(first, end):
                second = int(frame / fps)
                if second not in texts:
                    box: Any = mover.at(second)
                    if "c_max" in occ:  # object boxes carry a confidence, like seconds_objects
                        box = [{**box, "c": occ["c_max"]}]
                    texts[second] = json.dumps({"d": det_id, "o": [occ["id"]], "b": box})
                frames[frame].append(texts[second])
    return "[" + ", ".join("[" + ", ".join(frame) + "]" for frame in frames) + "]"


def _document(header: dict[str, Any], key: str, array_json: str) -> bytes:
    return (json.dumps(header)[:-1] + f", {json.dumps(key)}: {array_json}}}").encode()


def frames_objects(core: Mapping[str, Any], fps: float, seed: int) -> bytes | None:
    """Logo boxes per frame (the key names are not public; these mirror seconds_objects)."""
    frames = _per_frame_json(core, "visual.object.localized", fps, (0.05, 0.15), seed ^ 0xF0B)
    if frames is None:
        return None
    return _document(
        _header("frames_objects", FRAMES_OBJECTS_FORMAT, core), "objects_by_frame", frames
    )


def frames_faces(core: Mapping[str, Any], fps: float, seed: int) -> bytes | None:
    """Face boxes per frame, pointing at the core's human.face detections."""
    frames = _per_frame_json(core, "human.face", fps, (0.08, 0.3), seed ^ 0xFACE)
    if frames is None:
        return None
    return _document(_header("frames_faces", FRAMES_FACES_FORMAT, core), "faces_by_frame", frames)
