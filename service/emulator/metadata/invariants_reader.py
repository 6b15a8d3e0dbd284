"""Checks that Valossa's reference parser can read a core document in the commands that matter.

The parser (valossalabs/metadata-reader, MIT) indexes fields directly, so a missing key is a
KeyError for whoever runs it. What each command reads was learnt by reading its source; the
checks below are our own restatement, not its code:

* `metadata-info`: version_info.metadata_format and .backend; media_info.from_customer.title
  (even when the job had no title); media_info.technical.duration_s; job_info.request.media's
  description, video.url and transcript.url keys.
* `list-detections --extra-header similar_to gender`: every detection id is an integer string;
  each listed detection has t and label; an ext_refs.gkg has an id; a human.face has `a`, and a
  similar_to list starts with a match that has a string name and a confidence.
* `summary` (human.face and visual.context by default): those detections have occs with ss and
  se, visual.context occurrences a c_max (read under --min-confidence).
* `list-occurrences --extra-header similar_to`: every occurrence has ss, se and, in formats
  after 1.3.1 (which predates shot indexes), the shot index shs.

Every id in by_detection_type must name a detection (the parser looks each one up).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.emulator.metadata.invariant_rules import Problems, is_number

_MAX_PROBLEMS = 200
_SUMMARY_TYPES = ("human.face", "visual.context")
_BEFORE_SHOT_INDEXES = (1, 3, 1)  #: the last format whose occurrences had no shs


def check_reader_needs(doc: Mapping[str, Any]) -> list[str]:
    """List every field the reference parser's commands would miss (empty: all readable)."""
    problems = Problems(_MAX_PROBLEMS)
    _metadata_info(doc, problems)
    detections = doc.get("detections")
    by_type = _get(doc, "detection_groupings", "by_detection_type")
    if not isinstance(detections, Mapping) or not isinstance(by_type, Mapping):
        problems.add("list-detections: detections or by_detection_type is missing")
        return problems.listed()
    for det_id in detections:
        if not str(det_id).isdigit():
            problems.add(f"list-detections: detection id {det_id!r} is not an integer string")
    with_shs = _format(doc) > _BEFORE_SHOT_INDEXES
    for t, ids in by_type.items():
        for det_id in ids:
            detection = detections.get(det_id)
            if not isinstance(detection, Mapping):
                problems.add(
                    f"by_detection_type[{t!r}] names detection {det_id!r}, which is missing"
                )
                continue
            where = f"detection {det_id}"
            _listed(where, detection, problems)
            _occurrences(where, detection, with_shs=with_shs, problems=problems)
    _summary(detections, by_type, problems)
    return problems.listed()


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, Mapping) or key not in doc:
            return _MISSING
        doc = doc[key]
    return doc


_MISSING = object()


def _metadata_info(doc: Mapping[str, Any], problems: Problems) -> None:
    needed = (
        ("version_info", "metadata_format"),
        ("version_info", "backend"),
        ("media_info", "from_customer", "title"),
        ("job_info", "request", "media", "description"),
        ("job_info", "request", "media", "video", "url"),
        ("job_info", "request", "media", "transcript", "url"),
    )
    for path in needed:
        if _get(doc, *path) is _MISSING:
            problems.add(f"metadata-info: {'.'.join(path)} is missing")
    if not is_number(_get(doc, "media_info", "technical", "duration_s")):
        problems.add("metadata-info, summary: media_info.technical.duration_s is not a number")


def _listed(where: str, detection: Mapping[str, Any], problems: Problems) -> None:
    for key in ("t", "label"):
        if key not in detection:
            problems.add(f"list-detections: {where} has no {key!r}")
    gkg = _get(detection, "ext_refs", "gkg")
    if gkg is not _MISSING and _get(gkg, "id") is _MISSING:
        problems.add(f"list-detections: {where} has ext_refs.gkg without an id")
    if detection.get("t") != "human.face":
        return
    attributes = detection.get("a")
    if not isinstance(attributes, Mapping):
        problems.add(f"list-detections, summary: face {where} has no 'a'")
        return
    similar = attributes.get("similar_to")
    if similar is not None:
        if not isinstance(similar, list) or not similar:
            problems.add(f"list-detections, summary: {where} has an empty similar_to")
            return
        for match in similar:
            if not isinstance(_get(match, "name"), str):
                problems.add(f"list-detections, summary: {where} has a similar_to without a name")
            if not is_number(_get(match, "c")):
                problems.add(f"summary: {where} has a similar_to without a confidence c")
    elif "gender" in attributes and _get(attributes, "gender", "value") is _MISSING:
        problems.add(f"list-detections: {where} has a gender without a value")


def _occurrences(
    where: str, detection: Mapping[str, Any], *, with_shs: bool, problems: Problems
) -> None:
    for occ in detection.get("occs", ()):
        if not (is_number(_get(occ, "ss")) and is_number(_get(occ, "se"))):
            problems.add(f"list-occurrences, summary: an occurrence of {where} lacks ss or se")
        if with_shs and not isinstance(_get(occ, "shs"), int):
            problems.add(f"list-occurrences: an occurrence of {where} has no shot index shs")


def _summary(detections: Mapping[str, Any], by_type: Mapping[str, Any], problems: Problems) -> None:
    for t in _SUMMARY_TYPES:
        for det_id in by_type.get(t, ()):
            detection = detections.get(det_id)
            if not isinstance(detection, Mapping):
                continue  # reported above
            if not isinstance(detection.get("occs"), list):
                problems.add(f"summary: {t} detection {det_id} has no occs")
            elif t == "visual.context" and not all("c_max" in o for o in detection["occs"]):
                problems.add(f"summary --min-confidence: {t} detection {det_id} lacks a c_max")


def _format(doc: Mapping[str, Any]) -> tuple[int, ...]:
    text = _get(doc, "version_info", "metadata_format")
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return (0,)
