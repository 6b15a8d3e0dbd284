"""Results derived from the media itself: shots, speech, silence and colours (PyAV)."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from service.emulator import content
from service.emulator.content import MediaFeatures, analyse_media, file_sha256, read_media
from service.emulator.content import video as video_scan
from service.emulator.media import TechnicalInfo, probe_media, write_sample_video
from service.emulator.metadata import RESULT_TYPES, ResultsInput, build_results
from service.emulator.metadata.invariants import check_core_metadata
from service.emulator.metadata.invariants_reader import check_reader_needs

FPS = 25
SPEECH_TYPES = {t for t in RESULT_TYPES if t.startswith("speech_to_text_")}
#: The sample's tone bursts: 0.4 s of silence, then 1.6 s of tone and 0.6 s of pause, repeated.
TONE_SPANS = ((0.4, 2.0), (2.6, 4.2), (4.8, 6.4))


def clip(directory: Path, name: str, **options: Any) -> tuple[Path, TechnicalInfo]:
    path = directory / name
    write_sample_video(path, width=160, height=120, fps=FPS, **options)
    technical = probe_media(path)
    assert technical is not None
    return path, technical


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("content")


@pytest.fixture(scope="module")
def talking(media: Path) -> tuple[Path, TechnicalInfo, MediaFeatures]:
    """7 s in scenes of 2 s, with speech-like tone bursts."""
    path, technical = clip(media, "talking.mp4", duration_s=7.0, scene_s=2.0)
    return path, technical, analyse_media(path, technical)


def results(
    features: MediaFeatures, technical: TechnicalInfo, *, job_id: str = "job-1", **media: Any
) -> dict[str, bytes]:
    request = {"media": {"video": {"url": "https://example.com/v.mp4"}, **media}}
    return build_results(ResultsInput(job_id, request, technical, None, (), features))


def core(data: dict[str, bytes]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(data["core"])
    return doc


def of_type(doc: dict[str, Any], t: str) -> list[dict[str, Any]]:
    ids = doc["detection_groupings"]["by_detection_type"].get(t, [])
    return [doc["detections"][d] for d in ids]


def test_scene_changes_become_shot_boundaries(talking: Any) -> None:
    _, technical, features = talking
    assert features.cuts == pytest.approx((2.0, 4.0, 6.0), abs=1 / FPS + 1e-6)
    shots = core(results(features, technical))["segmentations"]["detected_shots"]
    assert [shot["fs"] for shot in shots] == [0, 50, 100, 150]
    assert shots[-1]["fe"] == 7 * FPS - 1


def test_a_single_scene_is_a_single_shot(media: Path) -> None:
    path, technical = clip(media, "one-scene.mp4", duration_s=5.0, scene_s=None)
    features = analyse_media(path, technical)
    assert features.cuts == ()
    assert len(core(results(features, technical))["segmentations"]["detected_shots"]) == 1


def test_speech_is_where_the_voice_band_is_loud(talking: Any) -> None:
    _, technical, features = talking
    assert len(features.speech) == len(TONE_SPANS)
    for (ss, se), (tone_ss, tone_se) in zip(features.speech, TONE_SPANS, strict=True):
        assert ss == pytest.approx(tone_ss, abs=0.1)
        assert se == pytest.approx(tone_se, abs=0.1)
    data = results(features, technical)
    doc = core(data)
    spoken = of_type(doc, "audio.speech")
    assert spoken
    for detection in spoken:
        [occ] = detection["occs"]
        assert any(ss - 0.01 <= occ["ss"] <= occ["se"] <= se + 0.01 for ss, se in features.speech)
    assert set(data) >= SPEECH_TYPES


def test_a_silent_track_has_no_speech_but_silence(media: Path) -> None:
    path, technical = clip(media, "silent-track.mp4", duration_s=4.0, audio_level=0.0)
    features = analyse_media(path, technical)
    assert features.audio_track
    assert (features.speech, features.silence) == ((), ((0.0, 4.0),))
    data = results(features, technical)
    assert not SPEECH_TYPES & set(data)
    doc = core(data)
    assert of_type(doc, "audio.speech") == []
    assert [d["label"] for d in of_type(doc, "audio.context")] == ["silence"]
    [silence] = of_type(doc, "audio.context")
    assert [(o["ss"], o["se"]) for o in silence["occs"]] == [(0.0, 4.0)]
    assert check_core_metadata(doc) == []


def test_no_audio_stream_has_no_sound_detections(media: Path) -> None:
    path, technical = clip(media, "no-audio.mp4", duration_s=3.0, audio=False)
    features = analyse_media(path, technical)
    assert (features.audio_track, features.speech, features.silence) == (False, (), ())
    types = core(results(features, technical))["detection_groupings"]["by_detection_type"]
    assert not any(t.startswith("audio.") for t in types)


def test_sounds_other_than_speech_stay_out_of_silence(media: Path) -> None:
    path, technical = clip(media, "quiet-end.mp4", duration_s=8.0, audio_level=0.0)
    # As if only the second half were silent: sound in 0-4 s, silence in 4-8 s.
    half = dataclasses.replace(analyse_media(path, technical), silence=((4.0, 8.0),))
    doc = core(results(half, technical))
    for detection in of_type(doc, "audio.context"):
        for occ in detection["occs"]:
            if detection["label"] == "silence":
                assert (occ["ss"], occ["se"]) == (4.0, 8.0)
            else:
                assert occ["se"] <= 4.0, (detection["label"], occ)


def test_dominant_colours_follow_the_picture(talking: Any) -> None:
    _, technical, features = talking
    doc = core(results(features, technical))
    [colour] = of_type(doc, "visual.color")
    [occ] = colour["occs"]
    per_second = {
        second: entry["a"]["colors"]
        for second, entries in enumerate(doc["detection_groupings"]["by_second"])
        for entry in entries
        if entry["d"] == next(k for k, v in doc["detections"].items() if v is colour)
        and "a" in entry
    }
    assert (occ["ss"], occ["se"]) == (0.0, technical.duration_s)
    assert sorted(per_second) == list(range(7))
    # Scene 1 (seconds 0-1) is red-orange, scene 2 (seconds 2-3) blue: their top colours differ.
    assert per_second[0][0]["rgb"] != per_second[2][0]["rgb"]
    assert all(0 < c["f"] <= 1 and len(c["rgb"]) == 6 for c in per_second[0])


def test_the_same_file_gives_the_same_document(talking: Any, media: Path) -> None:
    path, technical, features = talking
    again = read_media(path, technical)
    assert again == features
    first = core(results(features, technical, job_id="job-a"))
    second = core(results(again, technical, job_id="job-b"))
    for doc in (first, second):
        del doc["job_info"]["job_id"]
    assert first == second
    other, other_technical = clip(media, "other.mp4", duration_s=7.0, scene_s=3.0)
    different = core(results(analyse_media(other, other_technical), other_technical))
    del different["job_info"]["job_id"]
    assert different["detections"] != first["detections"]
    assert file_sha256(path) == features.sha256 != file_sha256(other)


def test_the_same_content_is_decoded_once(
    talking: Any, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, technical, features = talking
    duplicate = media / "copy-of-talking.mp4"
    shutil.copyfile(path, duplicate)
    analyse_media(path, technical)  # kept, whatever other tests read since the fixture

    def no_decoding(*_: Any) -> Any:
        raise AssertionError("decoded again")

    monkeypatch.setattr(content, "scan_video", no_decoding)
    assert analyse_media(duplicate, technical) == features  # another file, the same bytes
    other, other_technical = clip(media, "other-scenes.mp4", duration_s=3.0, scene_s=1.0)
    with pytest.raises(AssertionError, match="decoded again"):
        analyse_media(other, other_technical)


def test_content_derived_documents_pass_both_checkers(talking: Any) -> None:
    _, technical, features = talking
    for media in ({"title": "A clip", "description": "Talking"}, {}):
        doc = core(results(features, technical, **media))
        assert check_core_metadata(doc) == []
        assert check_reader_needs(doc) == []


def test_long_videos_are_read_at_their_keyframes(
    talking: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, technical, features = talking
    monkeypatch.setattr(video_scan, "FULL_DECODE_MAX_S", 1.0)
    sparse = read_media(path, technical)
    assert len(sparse.colours) == len(features.colours) == 7
    assert all(sparse.colours)  # seconds without a keyframe keep the colours seen last
    # Keyframes are sparser than the samples: every cut found is one of the real ones.
    assert all(any(abs(c - real) < 0.05 for real in features.cuts) for c in sparse.cuts)


def test_memory_stays_bounded_for_a_longer_clip(media: Path) -> None:
    path, technical = clip(media, "long.mp4", duration_s=40.0, scene_s=5.0)
    tracemalloc.start()
    try:
        features = read_media(path, technical)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(features.cuts) == 7
    # Python-side peak: a hashing buffer or two and one thumbnail. Holding the decoded 8 kHz
    # audio would take 640 kB, the thumbnails of every sampled frame 700 kB.
    assert peak < 700_000, peak


def test_non_us_english_gets_a_transcript_without_keywords_or_sentiment(talking: Any) -> None:
    _, technical, features = talking
    finnish = core(results(features, technical, language="fi-FI"))
    spoken = of_type(finnish, "audio.speech")
    assert spoken
    assert all("a" not in d for d in spoken)
    types = finnish["detection_groupings"]["by_detection_type"]
    assert not any(t.startswith("audio.keyword.") for t in types)
    english = core(results(features, technical))
    assert {d["label"] for d in spoken}.isdisjoint(
        {d["label"] for d in of_type(english, "audio.speech")}
    )
    assert all("sen" in d["a"] for d in of_type(english, "audio.speech"))
    assert copy.deepcopy(finnish["job_info"]["request"]["media"]["language"]) == "fi-FI"
