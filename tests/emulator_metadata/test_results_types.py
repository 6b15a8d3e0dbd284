"""Which result types a job has, and that they agree with its core document."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from metadata_support import GALLERY, TRANSCRIPT, results_input

from service.emulator.media import parse_srt
from service.emulator.metadata import RESULT_MEDIA_TYPES, RESULT_TYPES, build_results

SPEECH_TYPES = {t for t in RESULT_TYPES if t.startswith("speech_to_text_")}


@pytest.fixture(scope="module")
def minute() -> dict[str, bytes]:
    return build_results(results_input(60.0, gallery=GALLERY))


def _core(results: dict[str, bytes]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(results["core"])
    return doc


def test_the_nine_documented_types_have_media_types() -> None:
    assert len(RESULT_TYPES) == 9
    assert set(RESULT_MEDIA_TYPES) == set(RESULT_TYPES)
    assert RESULT_MEDIA_TYPES["speech_to_text_srt"] == "application/x-subrip"
    assert RESULT_MEDIA_TYPES["core"] == "application/json"


def test_results_are_deterministic_per_job() -> None:
    assert build_results(results_input(90.0)) == build_results(results_input(90.0))
    other = build_results(results_input(90.0, job_id="another-job"))
    assert other["core"] != build_results(results_input(90.0))["core"]


def test_video_with_audio_has_every_type(minute: dict[str, bytes]) -> None:
    assert set(minute) == set(RESULT_TYPES)


@pytest.mark.parametrize(
    "inp",
    [results_input(60.0, transcript=TRANSCRIPT), results_input(60.0, audio=False)],
    ids=["transcript given", "no audio"],
)
def test_speech_types_absent_without_speech_analysis(inp: Any) -> None:
    results = build_results(inp)
    assert set(results) == set(RESULT_TYPES) - SPEECH_TYPES
    types = _core(results)["detection_groupings"]["by_detection_type"]
    assert "audio.speech" not in types
    assert not any(t.startswith("audio.keyword.") for t in types)


def test_silent_video_has_no_audio_context() -> None:
    types = _core(build_results(results_input(60.0, audio=False)))["detection_groupings"]
    assert "audio.context" not in types["by_detection_type"]


def test_transcript_gives_transcript_keywords() -> None:
    doc = _core(build_results(results_input(30.0, transcript=TRANSCRIPT)))
    keywords = {
        (d["t"], d["label"]) for d in doc["detections"].values() if d["t"].startswith("transcript.")
    }
    assert ("transcript.keyword.name.organization", "City Council") in keywords
    assert ("transcript.keyword.name.location", "Lisbon") in keywords
    assert ("transcript.keyword.novelty_word", "inheritance") in keywords
    lisbon = next(d for d in doc["detections"].values() if d["label"] == "Lisbon")
    assert [(o["ss"], o["se"]) for o in lisbon["occs"]] == [(4.0, 6.25)]
    assert "topic.iab.transcript" in doc["detection_groupings"]["by_detection_type"]


def test_request_is_echoed_without_secrets(minute: dict[str, bytes]) -> None:
    doc = _core(minute)
    request = doc["job_info"]["request"]
    assert set(request) == {"media", "analysis_parameters"}
    assert request["media"]["customer_media_info"] == {"id": "cms-42"}
    assert request["media"]["language"] == "en-US"
    assert request["media"]["transcript"] == {"url": None}
    assert b"kkkkkkkkkkkk" not in minute["core"]
    assert b"secret-token" not in minute["core"]
    assert doc["media_info"]["from_customer"]["title"] == "Evening at the Harbour Authority"
    assert doc["media_info"]["technical"]["duration_s"] == 60.0
    assert doc["version_info"]["metadata_format"].startswith("1.8.")


def test_external_keywords_come_from_title_and_description(minute: dict[str, bytes]) -> None:
    doc = _core(minute)
    external = {d["label"] for d in doc["detections"].values() if d["t"].startswith("external.")}
    assert {"Harbour Authority", "Lisbon", "stamps", "thriller"} <= external


def test_gallery_faces_appear_as_similar_to(minute: dict[str, bytes]) -> None:
    doc = _core(minute)
    matches = [
        match
        for d in doc["detections"].values()
        if d["t"] == "human.face"
        for match in d["a"].get("similar_to", [])
    ]
    assert sorted(m["gallery_face"]["id"] for m in matches) == ["face-a", "face-b"]
    ann = next(m for m in matches if m["gallery_face"]["id"] == "face-a")
    assert ann["gallery"] == {"id": "gal-1"}
    assert ann["gallery_face"]["name"] == "Ann Example"


def test_gallery_faces_fit_even_in_a_one_shot_clip() -> None:
    doc = _core(build_results(results_input(1.5, gallery=GALLERY)))
    faces = [d for d in doc["detections"].values() if d["t"] == "human.face"]
    assert sum("similar_to" in d["a"] for d in faces) == len(GALLERY)


def _speech(doc: dict[str, Any]) -> list[tuple[float, float, str]]:
    ids = doc["detection_groupings"]["by_detection_type"]["audio.speech"]
    return [
        (d["occs"][0]["ss"], d["occs"][0]["se"], d["label"])
        for d in map(doc["detections"].get, ids)
    ]


def test_subtitles_match_the_speech_detections(minute: dict[str, bytes]) -> None:
    speech = _speech(_core(minute))
    assert len(speech) >= 5
    srt = parse_srt(minute["speech_to_text_srt"].decode())
    assert [(c.start_s, c.end_s, c.text) for c in srt] == speech
    vtt = minute["speech_to_text_vtt"].decode()
    assert vtt.startswith("WEBVTT\n\n")
    assert parse_srt("\n\n".join(f"{n}\n{b}" for n, b in enumerate(vtt[8:].split("\n\n"), 1) if b))
    ttml = ET.fromstring(minute["speech_to_text_ttml"])
    texts = [p.text for p in ttml.iter("{http://www.w3.org/ns/ttml}p")]
    assert texts == [text for _, _, text in speech]
    avid = minute["speech_to_text_avid_txt"].decode()
    assert avid.count("\n\n") >= len(speech)
    assert all(text in avid for _, _, text in speech)


def test_object_and_face_results_point_into_the_core(minute: dict[str, bytes]) -> None:
    doc = _core(minute)
    by_type = doc["detection_groupings"]["by_detection_type"]
    seconds = json.loads(minute["seconds_objects"])
    assert seconds["version_info"]["metadata_type"] == "seconds_objects"
    assert len(seconds["objects_by_second"]) == math.ceil(60.0)
    entries = [e for second in seconds["objects_by_second"] for e in second]
    assert entries
    assert {e["d"] for e in entries} <= set(by_type["visual.object.localized"])
    for entry in entries:
        for box in entry["b"]:
            assert 0 <= box["x"] <= 1 - box["w"] + 1e-9
            assert 0.5 <= box["c"] <= 1
    faces = json.loads(minute["frames_faces"])
    assert len(faces["faces_by_frame"]) == 60 * 25
    assert {e["d"] for frame in faces["faces_by_frame"] for e in frame} <= set(
        by_type["human.face"]
    )
    frames = json.loads(minute["frames_objects"])
    assert len(frames["objects_by_frame"]) == 60 * 25


def test_visual_captions_follow_shots(minute: dict[str, bytes]) -> None:
    shots = _core(minute)["segmentations"]["detected_shots"]
    captions = json.loads(minute["visual_captions"])
    assert captions["version_info"] == {
        "metadata_type": "visual_captions",
        "metadata_format_version": "1.2.0",
    }
    assert captions["selected_sections"]
    for item in captions["selected_sections"]:
        shot = shots[item["section"]["shot_index"]]
        assert shot["ss"] <= item["section"]["s_start"] < item["section"]["s_end"] <= shot["se"]
        assert item["caption"].endswith(".")


def test_size_grows_with_duration() -> None:
    sizes = [len(build_results(results_input(d))["core"]) for d in (60.0, 600.0, 1800.0)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[2] > 600_000  # about 2-4 MB for two hours, like real files
