"""Checks a Valossa Core metadata document against the invariants of real files.

The rules are those of `valossa-metadata.md` §4.2, checked on Valossa's own 1.3.1 example: ids are
decimal strings, occurrence ids are unique across the file, every detection sits in exactly one
by_detection_type list of its own type, occurrences are sorted by start, confidences lie in
[0.5, 1] with at most three decimals, `by_second` has ceil(duration) entries and lists an occurrence
at second i exactly when [ss, se) overlaps [i, i+1) (an occurrence ending on a whole second may
also be listed at that second, as Valossa does), and shots are contiguous.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from service.emulator.metadata.invariant_rules import (
    Problems,
    check_confidence,
    check_detection,
    is_number,
)

_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_DECIMAL_ID = re.compile(r"^[0-9]+$")
_CHRONOLOGICAL = frozenset({"audio.speech", "audio.speech_detailed"})
_MAX_PROBLEMS = 200
# Shot edges are frame-accurate; the last shot may end a frame or two after the probed duration.
_TIME_SLACK_S = 1.0


def check_core_metadata(doc: Mapping[str, Any]) -> list[str]:
    """List every way the document breaks Valossa's core metadata invariants (empty: valid)."""
    problems = Problems(_MAX_PROBLEMS)
    duration = _check_header(doc, problems)
    detections = doc.get("detections")
    shots = doc.get("segmentations", {}).get("detected_shots")
    n_shots = _check_shots(shots, doc, duration, problems)
    if not isinstance(detections, Mapping):
        problems.add("detections is not an object")
        return problems.listed()
    occurrences: dict[str, tuple[str, dict[str, Any]]] = {}
    for det_id, detection in detections.items():
        if not isinstance(det_id, str) or not _DECIMAL_ID.match(det_id):
            problems.add(f"detection id {det_id!r} is not a decimal string")
        check_detection(
            det_id, detection, detections, shots if n_shots else None, duration, problems
        )
        for occ in detection.get("occs", ()) if isinstance(detection, Mapping) else ():
            occ_id = occ.get("id") if isinstance(occ, Mapping) else None
            if not isinstance(occ_id, str) or not _DECIMAL_ID.match(occ_id):
                problems.add(
                    f"detection {det_id}: occurrence id {occ_id!r} is not a decimal string"
                )
            elif not (is_number(occ.get("ss")) and is_number(occ.get("se"))):
                continue  # check_detection reported the bad times
            elif occ_id in occurrences:
                problems.add(
                    f"occurrence id {occ_id} is used twice"
                    f" (detections {occurrences[occ_id][0]}, {det_id})"
                )
            else:
                occurrences[occ_id] = (det_id, occ)
    groupings = doc.get("detection_groupings")
    if not isinstance(groupings, Mapping):
        problems.add("detection_groupings is missing")
        return problems.listed()
    _check_by_detection_type(groupings.get("by_detection_type"), detections, problems)
    if duration is not None:
        _check_by_second(groupings.get("by_second"), duration, detections, occurrences, problems)
    return problems.listed()


def _check_header(doc: Mapping[str, Any], problems: Problems) -> float | None:
    version = doc.get("version_info", {})
    if version.get("metadata_type") != "core":
        problems.add("version_info.metadata_type is not 'core'")
    if not _SEMVER.match(str(version.get("metadata_format", ""))):
        problems.add("version_info.metadata_format is not an x.y.z version")
    job_info = doc.get("job_info", {})
    if not isinstance(job_info.get("job_id"), str):
        problems.add("job_info.job_id is not a string")
    if "api_key" in repr(job_info.get("request", {})):
        problems.add("job_info.request echoes an api_key")
    duration = doc.get("media_info", {}).get("technical", {}).get("duration_s")
    if not is_number(duration) or duration <= 0:
        problems.add("media_info.technical.duration_s is not a positive number")
        return None
    return float(duration)


def _check_shots(
    shots: Any, doc: Mapping[str, Any], duration: float | None, problems: Problems
) -> int:
    if not isinstance(shots, list) or not shots:
        problems.add("segmentations.detected_shots is missing or empty")
        return 0
    fps = doc.get("media_info", {}).get("technical", {}).get("fps")
    previous: Mapping[str, Any] | None = None
    for index, shot in enumerate(shots):
        if not all(is_number(shot.get(k)) for k in ("ss", "se", "fs", "fe", "sdur")):
            problems.add(f"shot {index} lacks one of ss, se, fs, fe, sdur")
            return 0
        expected = (0.0, 0) if previous is None else (previous["se"], previous["fe"] + 1)
        if (shot["ss"], shot["fs"]) != expected:
            problems.add(
                f"shot {index} starts at {shot['ss']}/frame {shot['fs']},"
                f" not {expected}: not contiguous"
            )
        if not (shot["ss"] < shot["se"] and shot["fs"] <= shot["fe"]):
            problems.add(f"shot {index} ends before it starts")
        if abs(shot["sdur"] - (shot["se"] - shot["ss"])) > 0.002:
            problems.add(f"shot {index}: sdur {shot['sdur']} is not se - ss")
        if is_number(fps) and abs(shot["fs"] - shot["ss"] * fps) > 1.5:
            problems.add(
                f"shot {index}: frame {shot['fs']} does not match {shot['ss']} s at {fps} fps"
            )
        previous = shot
    if duration is not None and previous is not None and previous["se"] > duration + _TIME_SLACK_S:
        problems.add(f"the last shot ends at {previous['se']}, after the video ({duration} s)")
    return len(shots)


def _check_by_detection_type(
    by_type: Any, detections: Mapping[str, Any], problems: Problems
) -> None:
    if not isinstance(by_type, Mapping):
        problems.add("detection_groupings.by_detection_type is missing")
        return
    placed: dict[str, str] = {}
    for t, ids in by_type.items():
        if not isinstance(ids, list) or not ids:
            problems.add(f"by_detection_type[{t!r}] is not a non-empty list")
            continue
        for det_id in ids:
            detection = detections.get(det_id) if isinstance(det_id, str) else None
            if detection is None:
                problems.add(f"by_detection_type[{t!r}] names unknown detection {det_id!r}")
            elif detection.get("t") != t:
                problems.add(
                    f"by_detection_type[{t!r}] holds detection {det_id}"
                    f" of type {detection.get('t')!r}"
                )
            if det_id in placed:
                problems.add(f"detection {det_id} is listed twice in by_detection_type")
            placed[det_id] = t
        if t in _CHRONOLOGICAL:
            starts = [
                detections[d]["occs"][0]["ss"] for d in ids if detections.get(d, {}).get("occs")
            ]
            if starts != sorted(starts):
                problems.add(f"by_detection_type[{t!r}] is not in chronological order")
    for det_id in detections:
        if det_id not in placed:
            problems.add(f"detection {det_id} is in no by_detection_type list")


def _check_by_second(
    by_second: Any,
    duration: float,
    detections: Mapping[str, Any],
    occurrences: Mapping[str, tuple[str, dict[str, Any]]],
    problems: Problems,
) -> None:
    if not isinstance(by_second, list):
        problems.add("detection_groupings.by_second is missing")
        return
    if len(by_second) != math.ceil(duration):
        problems.add(
            f"by_second has {len(by_second)} entries, not ceil({duration}) = {math.ceil(duration)}"
        )
    listed: dict[str, set[int]] = defaultdict(set)
    for second, entries in enumerate(by_second):
        seen_dets: set[str] = set()
        for entry in entries:
            det_id, occ_ids = entry.get("d"), entry.get("o")
            if det_id not in detections or not isinstance(occ_ids, list) or not occ_ids:
                problems.add(f"by_second[{second}]: entry {entry!r} has no known d or no o list")
                continue
            if det_id in seen_dets:
                problems.add(f"by_second[{second}] lists detection {det_id} twice")
            seen_dets.add(det_id)
            if "c" in entry:
                check_confidence(
                    entry["c"], f"by_second[{second}] c of detection {det_id}", problems
                )
            for occ_id in occ_ids:
                owner = occurrences.get(occ_id)
                if owner is None or owner[0] != det_id:
                    problems.add(
                        f"by_second[{second}]: occurrence {occ_id!r}"
                        f" is not an occurrence of {det_id}"
                    )
                    continue
                if not _may_list(owner[1], second):
                    problems.add(
                        f"by_second[{second}] lists occurrence {occ_id}, which does not overlap it"
                    )
                listed[occ_id].add(second)
    _check_complete(by_second, occurrences, listed, problems)


def _may_list(occ: Mapping[str, Any], second: int) -> bool:
    ss: float = occ["ss"]
    se: float = occ["se"]
    if math.floor(ss) <= second < math.ceil(se):
        return True
    # Valossa lists an occurrence ending exactly on a whole second at that second too.
    return second == se or (ss == se and second == math.floor(ss))


def _check_complete(
    by_second: list[Any],
    occurrences: Mapping[str, tuple[str, dict[str, Any]]],
    listed: Mapping[str, set[int]],
    problems: Problems,
) -> None:
    # Only the span by_second actually covers is checked, so that a document cut to a time window
    # (like the example subset) is judged inside that window.
    filled = [i for i, entries in enumerate(by_second) if entries]
    if not filled:
        return
    first, last = filled[0], filled[-1]
    for occ_id, (det_id, occ) in occurrences.items():
        lo, hi = max(math.floor(occ["ss"]), first), min(math.ceil(occ["se"]), last + 1)
        missing = [i for i in range(lo, hi) if i not in listed.get(occ_id, ())]
        if missing:
            problems.add(
                f"occurrence {occ_id} of detection {det_id}"
                f" is missing from by_second at {missing[:5]}"
            )
