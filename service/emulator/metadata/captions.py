"""visual_captions: one sentence describing selected shots, from the concepts seen in them."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

VISUAL_CAPTIONS_FORMAT = "1.2.0"

_FRAMINGS = (
    "A close-up view showing",
    "A wide shot showing",
    "A medium shot showing",
    "A view showing",
)
# Concepts about the picture itself, not what is in it (the reference parser's blacklist tags).
_NOT_SUBJECTS = frozenset({"style", "lights_effects", "time"})
_MIN_SHOT_S = 2.0


def _labels_by_shot(core: Mapping[str, Any]) -> dict[int, list[str]]:
    labels: dict[int, list[str]] = defaultdict(list)
    for det_id in core["detection_groupings"]["by_detection_type"].get("visual.context", []):
        detection = core["detections"][det_id]
        if _NOT_SUBJECTS.intersection(detection.get("categ", {}).get("tags", ())):
            continue
        for occ in detection["occs"]:
            for shot in range(occ["shs"], occ["she"] + 1):
                if detection["label"] not in labels[shot]:
                    labels[shot].append(detection["label"])
    return labels


def visual_captions(core: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Captions for the longer shots (at least the longest), naming their main concepts."""
    rng = random.Random(seed ^ 0xCA7)
    shots = core["segmentations"]["detected_shots"]
    chosen = [i for i, shot in enumerate(shots) if shot["sdur"] >= _MIN_SHOT_S]
    if not chosen:
        chosen = [max(range(len(shots)), key=lambda i: shots[i]["sdur"])]
    labels = _labels_by_shot(core)
    sections = []
    for index in chosen:
        shot = shots[index]
        seen = (labels.get(index) or ["a scene"])[:3]
        subject = seen[0] if len(seen) == 1 else f"{', '.join(seen[:-1])} and {seen[-1]}"
        sections.append(
            {
                "caption": f"{rng.choice(_FRAMINGS)} {subject}.",
                "section": {
                    "s_start": round(shot["ss"] + min(0.5, shot["sdur"] / 4), 2),
                    "s_end": round(shot["se"] - min(0.5, shot["sdur"] / 4), 2),
                    "shot_index": index,
                },
            }
        )
    return {
        "version_info": {
            "metadata_type": "visual_captions",
            "metadata_format_version": VISUAL_CAPTIONS_FORMAT,
        },
        "job_info": {"job_id": core["job_info"]["job_id"]},
        "selected_sections": sections,
    }
