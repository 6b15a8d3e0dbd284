"""Valossa results of an emulated job: the core metadata and every other documented result type."""

from __future__ import annotations

import json
from typing import Any

from service.emulator.metadata.captions import visual_captions
from service.emulator.metadata.core import build_core
from service.emulator.metadata.frames import frames_faces, frames_objects, seconds_objects
from service.emulator.metadata.inputs import GalleryFace, ResultsInput
from service.emulator.metadata.subtitles import (
    speech_cues,
    to_avid_txt,
    to_srt,
    to_ttml,
    to_vtt,
)

__all__ = [
    "RESULT_MEDIA_TYPES",
    "RESULT_TYPES",
    "GalleryFace",
    "ResultsInput",
    "build_results",
]

RESULT_MEDIA_TYPES: dict[str, str] = {
    "core": "application/json",
    "frames_faces": "application/json",
    "frames_objects": "application/json",
    "seconds_objects": "application/json",
    "speech_to_text_srt": "application/x-subrip",
    "speech_to_text_vtt": "text/vtt",
    "speech_to_text_ttml": "application/ttml+xml",
    "speech_to_text_avid_txt": "text/plain",
    "visual_captions": "application/json",
}

#: Every result type job_results documents, in the documented order.
RESULT_TYPES: tuple[str, ...] = tuple(RESULT_MEDIA_TYPES)


def _json(doc: dict[str, Any]) -> bytes:
    # Valossa writes JSON with the default separators and ASCII escapes, like json.dumps.
    return json.dumps(doc).encode()


def build_results(inp: ResultsInput) -> dict[str, bytes]:
    """Every result type available for the job, as the exact bytes served (deterministic)."""
    core = build_core(inp)
    doc, fps = core.doc, core.technical.fps or 25.0
    results = {"core": _json(doc)}
    for name, data in (
        ("frames_faces", frames_faces(doc, fps, core.seed)),
        ("frames_objects", frames_objects(doc, fps, core.seed)),
    ):
        if data is not None:
            results[name] = data
    objects = seconds_objects(doc, core.seed)
    if objects is not None:
        results["seconds_objects"] = _json(objects)
    if core.speech_analysed:
        cues = speech_cues(doc)
        language = str(doc["job_info"]["request"]["media"]["language"])
        results["speech_to_text_srt"] = to_srt(cues).encode()
        results["speech_to_text_vtt"] = to_vtt(cues).encode()
        results["speech_to_text_ttml"] = to_ttml(cues, language).encode()
        results["speech_to_text_avid_txt"] = to_avid_txt(cues, fps).encode()
    results["visual_captions"] = _json(visual_captions(doc, core.seed))
    return results
