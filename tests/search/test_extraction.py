"""Streaming extraction of core documents (1.3.1 real, 1.8.x emulated) and of SRT files."""

from __future__ import annotations

import json
from typing import Any

import ijson
import pytest

from service.emulator.metadata import GalleryFace
from service.search.extraction import CoreExtractor, MediaFacts, Rows
from service.search.subtitles import SrtReader
from tests.search.search_support import (
    REAL_SUBSET,
    dumps,
    emulated_core,
    emulated_results,
    real_example,
)


def extract(data: bytes, piece: int = 64 * 1024) -> tuple[Rows, MediaFacts, CoreExtractor]:
    extractor = CoreExtractor()
    rows = Rows()
    for start in range(0, len(data), piece):
        extractor.feed(data[start : start + piece])
        _move(extractor.rows, rows)
    facts = extractor.close()
    _move(extractor.rows, rows)
    return rows, facts, extractor


def _move(source: Rows, target: Rows) -> None:
    target.detections += source.detections
    target.occurrences += source.occurrences
    target.faces += source.faces
    target.speech += source.speech
    source.clear()


def test_real_1_3_1_example() -> None:
    doc = json.loads(real_example())
    rows, facts, extractor = extract(real_example())

    assert facts == MediaFacts(
        metadata_format="1.3.1",
        duration_s=6816.389022,
        title="Charade with human created transcript",
        description=None,
    )
    assert len(rows.detections) == extractor.detections_seen == 701
    assert len(rows.occurrences) == extractor.occurrences_seen == 6960
    assert rows.speech == []  # a human transcript was supplied: no audio.speech
    named = {f.name: f for f in rows.faces if f.name}
    assert set(named) == {"Audrey Hepburn", "Cary Grant", "Aubrey Anderson-Emmons"}
    hepburn = named["Audrey Hepburn"]
    assert (hepburn.gender, hepburn.similarity, hepburn.visible_s) == ("female", 0.968, 970.225)
    assert hepburn.face_id is None  # 1.3.1 names the match without a gallery

    # Every detection and occurrence comes through with Valossa's own values.
    by_id = {d.valossa_id: d for d in rows.detections}
    assert set(by_id) == set(doc["detections"])
    for valossa_id, raw in doc["detections"].items():
        row = by_id[valossa_id]
        assert (row.type, row.label) == (raw["t"], raw["label"])
        assert row.occurrences == len(raw.get("occs", []))
        if raw.get("occs") and "c_max" in raw["occs"][0]:
            assert row.confidence == max(o["c_max"] for o in raw["occs"])
    iab = next(d for d in rows.detections if d.type == "topic.iab.visual")
    assert iab.ext_refs is not None
    assert iab.ext_refs["iab"]["id"].startswith("IAB")
    assert iab.occurrences == 0
    assert iab.first_s is None


def test_emulated_1_8_document_with_speech_and_gallery_faces() -> None:
    face = GalleryFace("gallery-1", "face-1", "Emilia Example", "female")
    doc = emulated_core("job-18", minutes=4, faces=(face,))
    rows, facts, _ = extract(dumps(doc))

    assert facts.metadata_format == "1.8.1"
    assert facts.title == "Harbour at dawn"
    assert facts.duration_s == pytest.approx(240.0)
    speech = [d for d in doc["detections"].values() if d["t"] == "audio.speech"]
    assert len(rows.speech) == len(speech) > 0
    assert {s.text for s in rows.speech} == {d["label"] for d in speech}
    assert not any(d.type == "audio.speech" for d in rows.detections)
    identified = [f for f in rows.faces if f.face_id]
    assert [(f.gallery_id, f.face_id, f.name) for f in identified] == [
        ("gallery-1", "face-1", "Emilia Example")
    ]
    tagged = [d for d in rows.detections if d.tags]
    assert tagged, "categ.tags of 1.8.x concepts are kept"


def test_pieces_of_any_size_give_the_same_rows() -> None:
    data = dumps(emulated_core("job-pieces", minutes=1))
    whole, whole_facts, _ = extract(data, piece=len(data))
    tiny, tiny_facts, _ = extract(data, piece=7)
    assert (tiny, tiny_facts) == (whole, whole_facts)


def test_rows_leave_as_they_are_parsed_not_at_the_end() -> None:
    extractor = CoreExtractor()
    data = real_example(REAL_SUBSET)
    half = data.find(b'"segmentations"')  # detections come first in the 1.3.1 file
    extractor.feed(data[:half])
    assert len(extractor.rows.detections) > 100
    extractor.rows.clear()
    extractor.feed(data[half:])
    extractor.close()


def test_unknown_types_fields_and_odd_values_are_tolerated() -> None:
    doc: dict[str, Any] = {
        "version_info": {"metadata_format": "1.9.0", "new_field": [1, 2]},
        "media_info": {"technical": {"duration_s": "long"}, "from_customer": ["not", "a", "map"]},
        "job_info": {"request": {"media": {"title": "From the request", "description": 42}}},
        "detections": {
            "1": {
                "t": "visual.hologram",
                "label": "unicorn",
                "future": {"x": 1},
                "occs": [
                    {"id": "1", "ss": 1.0, "se": 2.5, "c_max": 0.9, "extra": True},
                    {"id": "2", "ss": "soon", "se": 3.0},  # unreadable: left out
                    {"id": "3", "ss": 5.0, "se": 4.0},  # ends before it starts: left out
                ],
            },
            "2": {"label": "no type"},
            "3": "not an object",
            "4": {"t": "audio.speech_detailed", "label": "word", "occs": [{"ss": 1, "se": 1}]},
            "5": {"t": "human.face", "label": "face", "a": {"similar_to": "nobody"}, "occs": []},
            "6": {"t": "visual.context", "label": "sky", "c": 7, "occs": [{"ss": 0, "se": 1}]},
        },
        "detection_groupings": {"by_second": [[{"d": "1", "o": ["1"]}]], "by_future": {}},
    }
    rows, facts, extractor = extract(dumps(doc), piece=13)

    assert facts == MediaFacts("1.9.0", None, "From the request", None)
    assert [(d.valossa_id, d.type, d.occurrences) for d in rows.detections] == [
        ("1", "visual.hologram", 1),
        ("5", "human.face", 0),
        ("6", "visual.context", 1),
    ]
    assert rows.detections[0].confidence == 0.9
    assert rows.detections[0].screen_time_s == 1.5
    assert rows.detections[2].confidence is None  # a "confidence" of 7 is not one
    assert [(f.name, f.face_id) for f in rows.faces] == [(None, None)]
    assert extractor.occurrences_seen == 2


def test_a_truncated_document_is_an_error_not_a_partial_index() -> None:
    data = dumps(emulated_core("job-cut", minutes=1))
    extractor = CoreExtractor()
    extractor.feed(data[: len(data) // 2])
    with pytest.raises(ijson.IncompleteJSONError):
        extractor.close()


def test_srt_cues_in_pieces() -> None:
    srt = emulated_results("job-srt", minutes=1)["speech_to_text_srt"]
    doc = emulated_core("job-srt", minutes=1)
    expected = sorted(
        (d["occs"][0]["ss"], d["occs"][0]["se"], d["label"])
        for d in doc["detections"].values()
        if d["t"] == "audio.speech"
    )
    reader = SrtReader()
    for start in range(0, len(srt), 5):
        reader.feed(srt[start : start + 5])
    reader.close()
    assert [(s.start_s, s.end_s, s.text) for s in reader.segments] == expected


def test_srt_variants() -> None:
    reader = SrtReader()
    reader.feed(
        "\ufeff1\r\n00:00:01,5 --> 00:00:02.250\r\nHello\r\nthere\r\n\r\n"
        "2\n01:00:00,000 --> 01:00:01,000\nLast line without a newline".encode()
    )
    reader.close()
    assert [(s.start_s, s.end_s, s.text) for s in reader.segments] == [
        (1.5, 2.25, "Hello there"),
        (3600.0, 3601.0, "Last line without a newline"),
    ]


#: Labels spelled with every kind of escape, as Valossa's JSON may have them, and what is stored:
#: NUL and lone surrogates become U+FFFD; an escaped backslash followed by "u0000" is text.
ESCAPED_LABELS = [
    (r"nul\u0000here", "nul\ufffdhere"),
    (r"\udfff", "\ufffd"),
    (r"high\ud800", "high\ufffd"),
    (r"\uDBFF\u0041", "\ufffdA"),
    (r"pair \ud83d\ude00 ok", "pair \U0001f600 ok"),
    (r"caf\u00e9 \"quoted\" back\\slash", 'caf\u00e9 "quoted" back\\slash'),
    (r"not an escape: \\u0000 \\\ud800", "not an escape: \\u0000 \\\ufffd"),
    (r"ends with a backslash \\", "ends with a backslash \\"),
]


@pytest.mark.parametrize("piece", [1, 2, 5, 11, 12, 13, 4096])
def test_nul_and_lone_surrogates_become_replacement_characters(piece: int) -> None:
    detections = ",".join(
        f'"{n}": {{"t": "visual.context", "label": "{escaped}", "cid": "{escaped}"}}'
        for n, (escaped, _) in enumerate(ESCAPED_LABELS)
    )
    document = f'{{"detections": {{{detections}}}}}'.encode()

    rows, _, _ = extract(document, piece)

    expected = [stored.strip() for _, stored in ESCAPED_LABELS]
    assert [d.label for d in rows.detections] == expected
    assert [d.cid for d in rows.detections] == [label[:64] for label in expected]


def test_srt_nul_bytes_become_replacement_characters() -> None:
    reader = SrtReader()
    reader.feed(b"1\n00:00:01,000 --> 00:00:02,000\nnul\x00 byte\n\n")
    reader.close()
    assert [s.text for s in reader.segments] == ["nul\ufffd byte"]


def test_overlong_identifiers_are_cut_to_their_columns() -> None:
    document = {
        "version_info": {"metadata_format": "1." + "9" * 100},
        "detections": {"1": {"t": "visual.context", "label": "x", "cid": "c" * 200}},
    }
    rows, facts, _ = extract(json.dumps(document).encode())
    assert rows.detections[0].cid == "c" * 64
    assert facts.metadata_format == ("1." + "9" * 100)[:32]
