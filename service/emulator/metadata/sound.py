"""audio.context from what the audio track really holds: speech where the voice band is loud,
silence where it is quiet, other sounds (seeded) only where it is not silent."""

from __future__ import annotations

import math
from collections.abc import Sequence

from service.emulator.content import Span
from service.emulator.metadata.concepts import confidence, pick, whole_second_occs
from service.emulator.metadata.document import CoreBuilder, Occ
from service.emulator.metadata.vocabulary import AUDIO_CONCEPTS, SILENCE, SPEECH_SOUNDS, Concept

_AUDIO_DENSITY = 1.4  #: concept-seconds per second of sound, as in the real 113-minute file


def add_heard_audio_context(
    builder: CoreBuilder, speech: Sequence[Span], silence: Sequence[Span]
) -> None:
    """Sounds of an analysed audio track (call only when the media has one)."""
    rng, duration = builder.rng, builder.duration_s
    sound = _complement(silence, duration)
    concepts = {c.label: c for c in AUDIO_CONCEPTS}
    speech_occs = _whole_seconds(speech, duration, builder)
    if speech_occs:
        for label in ("speech", rng.choice(("male speech", "female speech"))):
            _add(builder, concepts[label], speech_occs)
    silence_occs = _whole_seconds(silence, duration, builder, inner=True)
    if silence_occs:
        _add(builder, concepts[SILENCE], silence_occs)
    sound_s = sum(e - s for s, e in sound)
    if sound_s < 1:
        return
    others = [c for c in AUDIO_CONCEPTS if c.label not in SPEECH_SOUNDS and c.label != SILENCE]
    chosen = pick(others, min(len(others), round(3 + 2 * sound_s / 60)), rng)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(chosen))]
    for concept, weight in zip(chosen, weights, strict=True):
        target = sound_s * _AUDIO_DENSITY * weight / sum(weights)
        occs = _clip(whole_second_occs(rng, duration, target, 2 + 6 * weight), sound)
        if occs:
            _add(builder, concept, occs)


def _add(builder: CoreBuilder, concept: Concept, occs: list[Occ]) -> None:
    fields: dict[str, object] = {"cid": concept.cid, "ext_refs": {"gkg": {"id": concept.gkg_id}}}
    if concept.tags:
        fields["categ"] = {"tags": list(concept.tags)}
    prominence = sum(o.se - o.ss for o in occs)
    builder.add("audio.context", concept.label, occs, prominence=prominence, **fields)


def _complement(spans: Sequence[Span], duration: float) -> list[Span]:
    out, t = [], 0.0
    for start, end in sorted(spans):
        if start > t:
            out.append((t, start))
        t = max(t, end)
    if t < duration:
        out.append((t, duration))
    return out


def _whole_seconds(
    spans: Sequence[Span], duration: float, builder: CoreBuilder, *, inner: bool = False
) -> list[Occ]:
    """Spans widened (or, `inner`, narrowed) to whole seconds, merged where they touch."""
    merged: list[list[float]] = []
    last = float(math.ceil(duration))
    for start, end in sorted(spans):
        ss = float(math.ceil(start) if inner else math.floor(start))
        se = float(min(math.floor(end) if inner else math.ceil(end), last))
        if se - ss < 1:
            continue
        if merged and ss <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], se)
        else:
            merged.append([ss, se])
    return [Occ(ss, se, confidence(builder.rng)) for ss, se in merged]


def _clip(occs: list[Occ], allowed: Sequence[Span]) -> list[Occ]:
    """The whole-second parts of each occurrence that lie inside the allowed spans."""
    out = []
    for occ in occs:
        for start, end in allowed:
            ss, se = max(occ.ss, float(math.ceil(start))), min(occ.se, float(math.floor(end)))
            if se - ss >= 1:
                out.append(Occ(ss, se, occ.c_max))
    return out
