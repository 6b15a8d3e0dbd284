"""Per-detection rules of the core metadata checker (see invariants.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_NEEDS_CONCEPT = frozenset({"visual.context", "audio.context"})
# Types whose occurrences carry no confidence (faces, groups and keywords, checked in real files).
_NO_C_MAX_PREFIXES = ("human.face", "transcript.keyword.", "audio.keyword.", "external.keyword.")
_TIME_SLACK_S = 1.0
_FRAME_SLACK_S = 0.05


class Problems:
    """Collects problem messages, keeping the first `limit` of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        """Record one problem."""
        if len(self.items) < self.limit:
            self.items.append(message)
        else:
            self.dropped += 1

    def listed(self) -> list[str]:
        """The recorded problems, with a last line counting those left out."""
        extra = [f"... and {self.dropped} more problems"] if self.dropped else []
        return self.items + extra


def is_number(value: Any) -> bool:
    """True for int and float values (not bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_confidence(value: Any, where: str, problems: Problems) -> None:
    """A confidence is a number in [0.5, 1] with at most three decimals."""
    if not is_number(value) or not 0.5 <= value <= 1:
        problems.add(f"{where}: confidence {value!r} is not in [0.5, 1]")
    elif abs(round(value, 3) - value) > 1e-9:
        problems.add(f"{where}: confidence {value!r} has more than three decimals")


def check_detection(
    det_id: str,
    detection: Any,
    detections: Mapping[str, Any],
    shots: Sequence[Mapping[str, Any]] | None,
    duration: float | None,
    problems: Problems,
) -> None:
    """Check one detection's fields, attributes and occurrences."""
    where = f"detection {det_id}"
    if not isinstance(detection, Mapping) or not isinstance(detection.get("t"), str):
        problems.add(f"{where} has no type 't'")
        return
    t: str = detection["t"]
    if "label" in detection and not isinstance(detection["label"], str):
        problems.add(f"{where}: label is not a string")
    _check_concept(where, t, detection, problems)
    if "c" in detection:
        check_confidence(detection["c"], where, problems)
    attributes = detection.get("a", {})
    if t == "human.face":
        limit = duration + _TIME_SLACK_S if duration is not None else float("inf")
        _check_face(where, attributes, limit, problems)
    elif t == "human.face_group":
        members = attributes.get("face_det_ids")
        if not isinstance(members, list) or not all(
            detections.get(m, {}).get("t") == "human.face" for m in members
        ):
            problems.add(f"{where}: face_det_ids do not all name human.face detections")
    if t.startswith("topic."):
        if "occs" in detection or "cid" in detection:
            problems.add(f"{where}: a topic has occurrences or a cid")
    elif "occs" in detection:
        _check_occurrences(where, t, detection["occs"], shots, duration, problems)


def _check_concept(where: str, t: str, detection: Mapping[str, Any], problems: Problems) -> None:
    cid = detection.get("cid")
    if cid is not None and not (isinstance(cid, str) and len(cid) == 12):
        problems.add(f"{where}: cid {cid!r} is not a 12-character string")
    ext_refs = detection.get("ext_refs", {})
    if t in _NEEDS_CONCEPT:
        if cid is None:
            problems.add(f"{where}: a {t} detection has no cid")
        if not isinstance(ext_refs.get("gkg", {}).get("id"), str):
            problems.add(f"{where}: a {t} detection has no ext_refs.gkg.id")
    if t.startswith("topic.iab."):
        iab = ext_refs.get("iab", {})
        hierarchy = iab.get("labels_hierarchy")
        if not isinstance(iab.get("id"), str) or not isinstance(hierarchy, list) or not hierarchy:
            problems.add(f"{where}: an IAB topic without ext_refs.iab id and labels_hierarchy")
        elif "label" in detection and detection["label"] != hierarchy[-1]:
            problems.add(f"{where}: label is not the last element of labels_hierarchy")
    tags = detection.get("categ", {}).get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        problems.add(f"{where}: categ.tags is not a list of strings")


def _check_face(
    where: str, attributes: Mapping[str, Any], limit: float, problems: Problems
) -> None:
    gender = attributes.get("gender")
    if gender is not None:
        if gender.get("value") not in ("male", "female"):
            problems.add(f"{where}: gender value {gender.get('value')!r} is not male or female")
        check_confidence(gender.get("c"), f"{where} gender", problems)
    visible = attributes.get("s_visible")
    # Not compared with the occurrences: real files exceed their sum by a frame per occurrence,
    # and a document cut to a time window keeps the whole video's value.
    if visible is not None and (not is_number(visible) or not 0 <= visible <= limit):
        problems.add(f"{where}: s_visible {visible!r} is not within the video's {limit} s")
    similar = attributes.get("similar_to", [])
    confidences = [match.get("c") for match in similar]
    for c in confidences:
        check_confidence(c, f"{where} similar_to", problems)
    if all(is_number(c) for c in confidences) and confidences != sorted(confidences, reverse=True):
        problems.add(f"{where}: similar_to is not sorted by confidence")
    for match in similar:
        if "gallery_face" in match and not isinstance(match["gallery_face"].get("id"), str):
            problems.add(f"{where}: similar_to gallery_face has no id")


def _check_occurrences(
    where: str,
    t: str,
    occs: Any,
    shots: Sequence[Mapping[str, Any]] | None,
    duration: float | None,
    problems: Problems,
) -> None:
    if not isinstance(occs, list) or not occs:
        problems.add(f"{where}: occs is not a non-empty list")
        return
    previous_ss = float("-inf")
    for occ in occs:
        ss, se = occ.get("ss"), occ.get("se")
        if not (is_number(ss) and is_number(se)) or not 0 <= ss <= se:
            problems.add(f"{where}: occurrence {occ.get('id')!r} has bad times ss={ss!r} se={se!r}")
            continue
        if duration is not None and se > duration + _TIME_SLACK_S:
            problems.add(
                f"{where}: occurrence {occ['id']} ends at {se}, after the video ({duration} s)"
            )
        if ss < previous_ss:
            problems.add(f"{where}: occurrences are not sorted by ss")
        previous_ss = ss
        if "c_max" in occ:
            if t.startswith(_NO_C_MAX_PREFIXES):
                problems.add(f"{where}: a {t} occurrence has c_max")
            check_confidence(occ["c_max"], f"{where} occurrence {occ['id']}", problems)
        if "shs" in occ or "she" in occ:
            _check_shot_refs(where, occ, shots, problems)


def _check_shot_refs(
    where: str,
    occ: Mapping[str, Any],
    shots: Sequence[Mapping[str, Any]] | None,
    problems: Problems,
) -> None:
    shs, she = occ.get("shs"), occ.get("she")
    n = len(shots) if shots else 0
    if not shots or not (isinstance(shs, int) and isinstance(she, int) and 0 <= shs <= she < n):
        problems.add(
            f"{where}: occurrence {occ['id']} has shot indexes {shs!r}..{she!r} outside 0..{n - 1}"
        )
        return
    first, last = shots[shs], shots[she]
    inside = first["ss"] - _FRAME_SLACK_S <= occ["ss"] <= first["se"] + _FRAME_SLACK_S and (
        last["ss"] - _FRAME_SLACK_S <= occ["se"] <= last["se"] + _FRAME_SLACK_S
    )
    if not inside:
        problems.add(f"{where}: occurrence {occ['id']} is not within shots {shs}..{she}")
