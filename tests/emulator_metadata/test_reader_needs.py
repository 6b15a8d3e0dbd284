"""Valossa's reference parser (metadata-reader) can read our documents in every case.

Its metadata-info, list-detections --extra-header similar_to, summary and list-occurrences
commands index fields directly; check_reader_needs restates what they read (see its module).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from metadata_support import GALLERY, results_input

from service.emulator.metadata import GalleryFace, ResultsInput, build_results
from service.emulator.metadata.invariants import check_core_metadata
from service.emulator.metadata.invariants_reader import check_reader_needs

Doc = dict[str, Any]
NAMELESS = (
    GalleryFace("gal-1", "face-x", None, None),
    GalleryFace("gal-1", "face-y", None, "male"),
)


def without_texts(inp: ResultsInput) -> ResultsInput:
    """The same job submitted without title and description."""
    request = copy.deepcopy(dict(inp.request))
    del request["media"]["title"], request["media"]["description"]
    return ResultsInput(inp.job_id, request, inp.technical, inp.transcript, inp.gallery_faces)


CASES = {
    "title, named identities": results_input(40.0, gallery=GALLERY[:1]),
    "title, nameless identities": results_input(40.0, gallery=NAMELESS),
    "no title, named and nameless": without_texts(results_input(40.0, gallery=GALLERY)),
    "no title, no gallery": without_texts(results_input(40.0)),
    "no title, nameless, silent": without_texts(results_input(30.0, gallery=NAMELESS, audio=False)),
}


def core(inp: ResultsInput) -> Doc:
    doc: Doc = json.loads(build_results(inp)["core"])
    return doc


@pytest.mark.parametrize("inp", CASES.values(), ids=CASES.keys())
def test_every_command_can_read_generated_documents(inp: ResultsInput) -> None:
    doc = core(inp)
    assert check_reader_needs(doc) == []
    assert check_core_metadata(doc) == []


def test_no_title_gives_null_fields_as_the_real_format_does() -> None:
    doc = core(CASES["no title, no gallery"])
    assert doc["media_info"]["from_customer"] == {"title": None, "description": None}
    media = doc["job_info"]["request"]["media"]
    assert (media["title"], media["description"], media["transcript"]) == (
        None,
        None,
        {"url": None},
    )


def test_nameless_identities_have_an_empty_name_and_their_gallery_face() -> None:
    doc = core(CASES["title, nameless identities"])
    matches = [m for d in doc["detections"].values() for m in d.get("a", {}).get("similar_to", [])]
    assert {m["gallery_face"]["id"] for m in matches} == {"face-x", "face-y"}
    assert all(m["name"] == "" and m["gallery_face"]["name"] is None for m in matches)


def test_the_real_example_is_readable(real_full: Doc) -> None:
    assert check_reader_needs(real_full) == []


def _drop_from_customer(doc: Doc) -> None:
    del doc["media_info"]["from_customer"]


def _drop_title(doc: Doc) -> None:
    del doc["media_info"]["from_customer"]["title"]


def _nameless_match(doc: Doc) -> None:
    del _similar(doc)[0]["name"]


def _null_name(doc: Doc) -> None:
    _similar(doc)[0]["name"] = None


def _face_without_attributes(doc: Doc) -> None:
    del _first(doc, "human.face")["a"]


def _no_label(doc: Doc) -> None:
    del _first(doc, "visual.context")["label"]


def _no_shot_index(doc: Doc) -> None:
    del _first(doc, "audio.context")["occs"][0]["shs"]


def _no_transcript_echo(doc: Doc) -> None:
    del doc["job_info"]["request"]["media"]["transcript"]


def _unknown_id(doc: Doc) -> None:
    doc["detection_groupings"]["by_detection_type"]["visual.context"].append("99999")


def _no_occs(doc: Doc) -> None:
    del _first(doc, "visual.context")["occs"]


def _first(doc: Doc, t: str) -> Doc:
    detection: Doc = doc["detections"][doc["detection_groupings"]["by_detection_type"][t][0]]
    return detection


def _similar(doc: Doc) -> list[Doc]:
    for detection in doc["detections"].values():
        if detection.get("a", {}).get("similar_to"):
            matches: list[Doc] = detection["a"]["similar_to"]
            return matches
    raise AssertionError("no similar_to in the document")


BREAKAGES: dict[str, tuple[Callable[[Doc], None], str]] = {
    "no from_customer": (_drop_from_customer, "metadata-info: media_info.from_customer.title"),
    "no title key": (_drop_title, "metadata-info: media_info.from_customer.title"),
    "match without name": (_nameless_match, "has a similar_to without a name"),
    "match with null name": (_null_name, "has a similar_to without a name"),
    "face without a": (_face_without_attributes, "has no 'a'"),
    "no label": (_no_label, "has no 'label'"),
    "no shs": (_no_shot_index, "has no shot index shs"),
    "no transcript echo": (_no_transcript_echo, "job_info.request.media.transcript.url"),
    "unknown id": (_unknown_id, "names detection '99999', which is missing"),
    "no occs": (_no_occs, "summary: visual.context detection"),
}


@pytest.fixture(scope="module")
def good() -> Doc:
    doc = core(results_input(60.0, gallery=GALLERY))
    assert check_reader_needs(doc) == []
    return doc


@pytest.mark.parametrize(("breakage", "expected"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_the_check_finds_what_the_parser_would_miss(
    good: Doc, breakage: Callable[[Doc], None], expected: str
) -> None:
    doc = copy.deepcopy(good)
    breakage(doc)
    problems = check_reader_needs(doc)
    assert any(expected in p for p in problems), problems


def test_shot_indexes_are_not_required_of_1_3_1_documents(good: Doc) -> None:
    doc = copy.deepcopy(good)
    _no_shot_index(doc)
    doc["version_info"]["metadata_format"] = "1.3.1"
    assert check_reader_needs(doc) == []
