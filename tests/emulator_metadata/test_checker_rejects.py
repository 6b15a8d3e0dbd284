"""The checker finds each kind of broken document (so its passing means something)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from metadata_support import results_input

from service.emulator.metadata import build_results
from service.emulator.metadata.invariants import check_core_metadata

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def good() -> Doc:
    doc: Doc = json.loads(build_results(results_input(120.0))["core"])
    assert check_core_metadata(doc) == []
    return doc


def _first(doc: Doc, t: str) -> Doc:
    det_id = doc["detection_groupings"]["by_detection_type"][t][0]
    detection: Doc = doc["detections"][det_id]
    return detection


def _occ_ids(doc: Doc) -> list[str]:
    return [o["id"] for d in doc["detections"].values() for o in d.get("occs", ())]


def _drop_from_by_type(doc: Doc) -> None:
    doc["detection_groupings"]["by_detection_type"]["visual.context"].pop()


def _list_twice(doc: Doc) -> None:
    by_type = doc["detection_groupings"]["by_detection_type"]
    by_type["audio.context"].append(by_type["visual.context"][0])


def _duplicate_occ_id(doc: Doc) -> None:
    faces = doc["detection_groupings"]["by_detection_type"]["human.face"]
    doc["detections"][faces[0]]["occs"][0]["id"] = doc["detections"][faces[1]]["occs"][0]["id"]


def _integer_id(doc: Doc) -> None:
    _first(doc, "human.face")["occs"][0]["id"] = 10**6


def _unsorted_occs(doc: Doc) -> None:
    occs = next(d["occs"] for d in doc["detections"].values() if len(d.get("occs", ())) > 1)
    occs.reverse()


def _short_by_second(doc: Doc) -> None:
    doc["detection_groupings"]["by_second"].pop()


def _forget_a_second(doc: Doc) -> None:
    seconds = doc["detection_groupings"]["by_second"]
    seconds[len(seconds) // 2].pop()


def _list_at_wrong_second(doc: Doc) -> None:
    occ = _first(doc, "visual.context")["occs"][0]
    det_id = doc["detection_groupings"]["by_detection_type"]["visual.context"][0]
    far = (int(occ["se"]) + 10) % len(doc["detection_groupings"]["by_second"])
    doc["detection_groupings"]["by_second"][far].append({"d": det_id, "o": [occ["id"]], "c": 0.9})


def _low_confidence(doc: Doc) -> None:
    _first(doc, "visual.context")["occs"][0]["c_max"] = 0.42


def _four_decimals(doc: Doc) -> None:
    _first(doc, "human.face")["a"]["gender"]["c"] = 0.8765


def _short_cid(doc: Doc) -> None:
    _first(doc, "visual.context")["cid"] = "abc"


def _gap_between_shots(doc: Doc) -> None:
    doc["segmentations"]["detected_shots"][1]["ss"] += 0.5


def _bad_shot_index(doc: Doc) -> None:
    _first(doc, "visual.context")["occs"][0]["she"] = len(doc["segmentations"]["detected_shots"])


def _wrong_type_list(doc: Doc) -> None:
    by_type = doc["detection_groupings"]["by_detection_type"]
    moved = by_type["visual.context"].pop()
    by_type["audio.context"].append(moved)


def _speech_out_of_order(doc: Doc) -> None:
    doc["detection_groupings"]["by_detection_type"]["audio.speech"].reverse()


def _api_key_echoed(doc: Doc) -> None:
    doc["job_info"]["request"]["api_key"] = "kkkk"


def _face_c_max(doc: Doc) -> None:
    _first(doc, "human.face")["occs"][0]["c_max"] = 0.9


BREAKAGES: dict[str, tuple[Callable[[Doc], None], str]] = {
    "detection in no list": (_drop_from_by_type, "in no by_detection_type list"),
    "detection listed twice": (_list_twice, "listed twice"),
    "occurrence id reused": (_duplicate_occ_id, "used twice"),
    "id not a string": (_integer_id, "not a decimal string"),
    "occurrences unsorted": (_unsorted_occs, "not sorted by ss"),
    "by_second too short": (_short_by_second, "entries, not ceil"),
    "by_second incomplete": (_forget_a_second, "missing from by_second"),
    "by_second lists a far occurrence": (_list_at_wrong_second, "does not overlap"),
    "confidence below 0.5": (_low_confidence, "not in [0.5, 1]"),
    "confidence with 4 decimals": (_four_decimals, "more than three decimals"),
    "cid not 12 characters": (_short_cid, "12-character"),
    "shots not contiguous": (_gap_between_shots, "not contiguous"),
    "shot index out of range": (_bad_shot_index, "shot indexes"),
    "detection in another type's list": (_wrong_type_list, "of type"),
    "speech not chronological": (_speech_out_of_order, "chronological"),
    "api_key echoed": (_api_key_echoed, "api_key"),
    "c_max on a face": (_face_c_max, "has c_max"),
}


@pytest.mark.parametrize(("breakage", "expected"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_checker_reports_the_breakage(
    good: Doc, breakage: Callable[[Doc], None], expected: str
) -> None:
    broken = copy.deepcopy(good)
    breakage(broken)
    problems = check_core_metadata(broken)
    assert any(expected in problem for problem in problems), problems


def test_checker_accepts_valossas_inclusive_edge(good: Doc) -> None:
    """An occurrence ending on a whole second may be listed at that second, as Valossa does."""
    doc = copy.deepcopy(good)
    det_id = doc["detection_groupings"]["by_detection_type"]["visual.context"][0]
    occ = doc["detections"][det_id]["occs"][0]
    end = int(occ["se"])
    assert occ["se"] == end
    assert end < len(doc["detection_groupings"]["by_second"])
    entries = doc["detection_groupings"]["by_second"][end]
    entry = next((e for e in entries if e["d"] == det_id), None)
    if entry is None:
        entries.append({"d": det_id, "o": [occ["id"]], "c": occ["c_max"]})
    else:
        entry["o"].insert(0, occ["id"])
    assert check_core_metadata(doc) == []


def test_problem_list_is_bounded(good: Doc) -> None:
    doc = copy.deepcopy(good)
    doc["detection_groupings"]["by_second"] = [[] for _ in doc["detection_groupings"]["by_second"]]
    doc["detection_groupings"]["by_second"][0] = [{"d": "1", "o": _occ_ids(doc)}]
    problems = check_core_metadata(doc)
    assert len(problems) == 201
    assert problems[-1].endswith("more problems")
