"""The Valossa Core metadata document of a job ("core" results, format 1.8.x)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from service.emulator.content import Span
from service.emulator.languages import DEFAULT_LANGUAGE
from service.emulator.media import TechnicalInfo
from service.emulator.metadata.colours import add_colours
from service.emulator.metadata.concepts import (
    add_audio_context,
    add_logos,
    add_topics,
    add_visual_context,
)
from service.emulator.metadata.document import CoreBuilder, Shots, make_shots, shots_from_cuts
from service.emulator.metadata.faces import add_face_groups, add_faces
from service.emulator.metadata.inputs import ResultsInput
from service.emulator.metadata.keywords import add_external_keywords, add_transcript_keywords
from service.emulator.metadata.sound import add_heard_audio_context
from service.emulator.metadata.speech import add_speech, make_sentences, seeded_speech_spans

METADATA_FORMAT = "1.8.1"
BACKEND_VERSION = "3.1.1"


@dataclasses.dataclass(frozen=True)
class CoreResult:
    """The core document plus what the other result types are derived from."""

    doc: dict[str, Any]
    technical: TechnicalInfo
    speech_analysed: bool
    seed: int


def job_seed(job_id: str) -> int:
    """A stable seed for a job whose media was not analysed."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big")


def results_seed(inp: ResultsInput) -> int:
    """The seed of everything not read from the media: its content hash, else the job id."""
    if inp.features is not None:
        return int(inp.features.sha256[:16], 16)
    return job_seed(inp.job_id)


def typical_technical(duration_s: float) -> TechnicalInfo:
    """Technical facts of a typical 720p H.264/AAC file of the given duration."""
    return TechnicalInfo(
        duration_s=duration_s,
        fps=25.0,
        x_pixels=1280,
        y_pixels=720,
        video_codec_long="H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
        video_codec_short="h264",
        video_bps=1_600_000,
        audio_codec_long="AAC (Advanced Audio Coding)",
        audio_codec_short="aac",
        audio_bps=192_000,
        n_audio_channels=2,
        has_audio=True,
    )


def effective_technical(inp: ResultsInput, rng: random.Random) -> TechnicalInfo:
    """The probed technical facts, or plausible ones from the seed if the media was not probed."""
    if inp.technical is not None:
        return inp.technical
    return typical_technical(round(rng.uniform(30, 600), 6))


def build_core(inp: ResultsInput) -> CoreResult:
    """Generate the core document of a job, the same every time for the same input."""
    seed = results_seed(inp)
    rng = random.Random(seed)
    technical = effective_technical(inp, rng)
    # by_second's length is ceil() of the duration as written, so generate from that value.
    duration = max(round(technical.duration_s, 6), 0.04)
    technical = dataclasses.replace(technical, duration_s=duration)
    features = inp.features
    media = _mapping(inp.request.get("media"))
    language = str(media.get("language") or DEFAULT_LANGUAGE)
    fps = technical.fps or 25.0
    shots: Shots = (
        shots_from_cuts(duration, fps, features.cuts)
        if features
        else make_shots(duration, fps, rng)
    )
    builder = CoreBuilder(duration, shots, rng)

    face_ids = add_faces(builder, inp.gallery_faces)
    add_face_groups(builder, face_ids)
    if inp.transcript is not None:
        add_transcript_keywords(builder, inp.transcript)
    speech_analysed = False
    speech = _within(features.speech, duration) if features else ()
    silence = _within(features.silence, duration) if features else ()
    if inp.transcript is None and technical.has_audio:
        spans = speech if features else seeded_speech_spans(rng, duration)
        sentences = make_sentences(rng, spans, language)
        add_speech(builder, sentences, language)
        speech_analysed = bool(sentences)
    add_visual_context(builder)
    if features is not None:
        add_colours(builder, features.colours[: math.ceil(duration)])
        if features.audio_track:
            add_heard_audio_context(builder, speech, silence)
    elif technical.has_audio:
        add_audio_context(builder)
    add_logos(builder)
    add_topics(builder, "topic.iab.visual")
    if inp.transcript:
        add_topics(builder, "topic.iab.transcript")
    add_external_keywords(builder, (media.get("title"), media.get("description")))

    doc = {
        "version_info": {
            "metadata_type": "core",
            "metadata_format": METADATA_FORMAT,
            "backend": BACKEND_VERSION,
        },
        "job_info": {"job_id": inp.job_id, "request": request_echo(inp.request)},
        "media_info": _media_info(technical, media),
        "detections": builder.detections,
        "detection_groupings": {
            "by_detection_type": builder.by_detection_type(),
            "by_second": builder.by_second(),
        },
        "segmentations": {"detected_shots": builder.shots.items},
    }
    return CoreResult(doc, technical, speech_analysed, seed)


def request_echo(request: Mapping[str, Any]) -> dict[str, Any]:
    """The documented part of the request (media, analysis_parameters); never the api_key."""
    # The callback URL may carry a secret token, and Valossa documents echoing only these two.
    media = copy.deepcopy(dict(_mapping(request.get("media"))))
    media.pop("api_key", None)
    media.setdefault("transcript", {"url": None})
    media.setdefault("description", None)
    media.setdefault("language", DEFAULT_LANGUAGE)
    media.setdefault("title", None)
    echo: dict[str, Any] = {"media": media}
    if "analysis_parameters" in request:
        echo["analysis_parameters"] = copy.deepcopy(request["analysis_parameters"])
    return echo


def _media_info(technical: TechnicalInfo, media: Mapping[str, Any]) -> dict[str, Any]:
    # from_customer is always there, its fields null when not given: Valossa's own reference
    # parser reads media_info.from_customer.title unconditionally.
    return {
        "technical": technical.as_metadata(),
        "from_customer": {"title": media.get("title"), "description": media.get("description")},
    }


def _within(spans: Sequence[Span], duration: float) -> tuple[Span, ...]:
    # An audio track may run a little past the probed duration; nothing is placed after it.
    return tuple((start, min(end, duration)) for start, end in spans if start < duration)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
