"""Rows for the search index, read from a Valossa core document fed in pieces (ijson).

The document is never held whole: detections are parsed one at a time as their bytes arrive,
and the big per-second groupings are skipped by the C parser. Every field except a detection's
`t` may be missing or of an unexpected type (formats 1.3.x to 1.8.x, and later minor versions
that add fields); what cannot be read is left out, never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ijson

from service.text import StorableJsonEscapes

#: Word-level speech repeats audio.speech one detection per word: it would only bloat the index.
SKIPPED_TYPES = frozenset({"audio.speech_detailed"})
SPEECH_TYPE = "audio.speech"
FACE_TYPE = "human.face"


@dataclass(frozen=True, slots=True)
class DetectionRow:
    seq: int
    valossa_id: str
    type: str
    label: str | None
    cid: str | None
    ext_refs: dict[str, Any] | None
    tags: list[str] | None
    confidence: float | None
    occurrences: int
    screen_time_s: float | None
    first_s: float | None


@dataclass(frozen=True, slots=True)
class OccurrenceRow:
    detection_seq: int
    seq: int
    start_s: float
    end_s: float
    confidence: float | None


@dataclass(frozen=True, slots=True)
class FaceRow:
    detection_seq: int
    gender: str | None
    gender_confidence: float | None
    gallery_id: str | None
    face_id: str | None
    name: str | None
    similarity: float | None
    visible_s: float | None


@dataclass(frozen=True, slots=True)
class SpeechRow:
    start_s: float
    end_s: float
    text: str


@dataclass
class Rows:
    """Rows ready to be written, emptied by whoever writes them."""

    detections: list[DetectionRow] = field(default_factory=list)
    occurrences: list[OccurrenceRow] = field(default_factory=list)
    faces: list[FaceRow] = field(default_factory=list)
    speech: list[SpeechRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.detections) + len(self.occurrences) + len(self.faces) + len(self.speech)

    def clear(self) -> None:
        self.detections.clear()
        self.occurrences.clear()
        self.faces.clear()
        self.speech.clear()


@dataclass(frozen=True)
class MediaFacts:
    """What the document says about the media itself."""

    metadata_format: str | None
    duration_s: float | None
    title: str | None
    description: str | None


class CoreExtractor:
    """Feed the document's bytes in order with `feed`, take `rows` as they fill, then `close`."""

    def __init__(self) -> None:
        self.rows = Rows()
        self.detections_seen = 0
        self.occurrences_seen = 0
        self.speech_seen = 0
        self._escapes = StorableJsonEscapes()
        self._detections = ijson.sendable_list()
        self._small: dict[str, Any] = {}
        self._sinks = {prefix: ijson.sendable_list() for prefix in _SMALL_PREFIXES}
        self._parsers = [
            ijson.kvitems_coro(self._detections, "detections", use_float=True),
            *(
                ijson.items_coro(sink, prefix, use_float=True)
                for prefix, sink in self._sinks.items()
            ),
        ]

    def feed(self, data: bytes) -> None:
        """Parse the next piece of the document (raises ijson's errors on malformed JSON)."""
        self._send(self._escapes.feed(data))

    def _send(self, data: bytes) -> None:
        if data:
            for parser in self._parsers:
                parser.send(data)
        self._take()

    def close(self) -> MediaFacts:
        """End of document: check it was complete and return the media facts."""
        self._send(self._escapes.feed(b"", final=True))
        for parser in self._parsers:
            parser.close()
        self._take()
        version = _mapping(self._small.get("version_info"))
        technical = _mapping(_mapping(self._small.get("media_info")).get("technical"))
        customer = _mapping(_mapping(self._small.get("media_info")).get("from_customer"))
        request = _mapping(self._small.get("job_info.request.media"))
        return MediaFacts(
            metadata_format=(
                _text(version.get("metadata_format"))
                or _text(version.get("metadata_format_version"))
                or ""
            )[:32]
            or None,
            duration_s=_seconds(technical.get("duration_s")),
            title=_text(customer.get("title")) or _text(request.get("title")),
            description=_text(customer.get("description")) or _text(request.get("description")),
        )

    def _take(self) -> None:
        for valossa_id, raw in self._detections:
            self._add(str(valossa_id), raw)
        self._detections.clear()
        for prefix, sink in self._sinks.items():
            if sink:
                self._small[prefix] = sink[-1]
                sink.clear()

    def _add(self, valossa_id: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            return
        kind = _text(raw.get("t"))
        if kind is None or kind in SKIPPED_TYPES:
            return
        label = _text(raw.get("label"))
        occurrences = [occ for occ in map(_occurrence, _list(raw.get("occs"))) if occ]
        if kind == SPEECH_TYPE:
            if label:
                self.rows.speech += [SpeechRow(ss, se, label) for ss, se, _ in occurrences]
                self.speech_seen += len(occurrences)
            return
        seq = self.detections_seen
        self.detections_seen += 1
        self.occurrences_seen += len(occurrences)
        attributes = _mapping(raw.get("a"))
        face = _face(seq, attributes) if kind == FACE_TYPE else None
        confidences = [c for _, _, c in occurrences if c is not None]
        confidence = max(confidences) if confidences else _confidence(raw.get("c"))
        if face is not None:
            self.rows.faces.append(face)
            confidence = face.similarity
        screen = sum(se - ss for ss, se, _ in occurrences) if occurrences else None
        if face is not None and face.visible_s is not None:
            screen = face.visible_s
        self.rows.detections.append(
            DetectionRow(
                seq=seq,
                valossa_id=valossa_id[:64],
                type=kind[:128],
                label=label,
                cid=_identifier(raw.get("cid")),
                ext_refs=dict(raw["ext_refs"]) if isinstance(raw.get("ext_refs"), dict) else None,
                tags=_tags(raw.get("categ")),
                confidence=confidence,
                occurrences=len(occurrences),
                screen_time_s=round(screen, 3) if screen is not None else None,
                first_s=min((ss for ss, _, _ in occurrences), default=None),
            )
        )
        self.rows.occurrences += [
            OccurrenceRow(seq, n, ss, se, c) for n, (ss, se, c) in enumerate(occurrences)
        ]


_SMALL_PREFIXES = ("version_info", "media_info", "job_info.request.media")


def _face(seq: int, attributes: Mapping[str, Any]) -> FaceRow:
    gender = _mapping(attributes.get("gender"))
    matches = [m for m in _list(attributes.get("similar_to")) if isinstance(m, Mapping)]
    best = max(matches, key=lambda m: _confidence(m.get("c")) or 0.0, default={})
    gallery_face = _mapping(best.get("gallery_face"))
    return FaceRow(
        detection_seq=seq,
        gender=(_text(gender.get("value")) or "")[:16] or None,
        gender_confidence=_confidence(gender.get("c")),
        gallery_id=_identifier(_mapping(best.get("gallery")).get("id")),
        face_id=_identifier(gallery_face.get("id")),
        name=_text(gallery_face.get("name")) or _text(best.get("name")),
        similarity=_confidence(best.get("c")),
        visible_s=_seconds(attributes.get("s_visible")),
    )


def _occurrence(raw: object) -> tuple[float, float, float | None] | None:
    if not isinstance(raw, Mapping):
        return None
    ss, se = _seconds(raw.get("ss")), _seconds(raw.get("se"))
    if ss is None or se is None or se < ss:
        return None
    return ss, se, _confidence(raw.get("c_max"))


def _tags(categ: object) -> list[str] | None:
    tags = [t for t in _list(_mapping(categ).get("tags")) if isinstance(t, str)]
    return tags or None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _confidence(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _identifier(value: object) -> str | None:
    text = _text(value)
    return text[:64] if text else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
