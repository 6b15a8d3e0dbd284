"""Concept detections on whole seconds: visual.context, audio.context, logos; and IAB topics."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from service.emulator.metadata.document import CoreBuilder, Occ
from service.emulator.metadata.vocabulary import (
    AUDIO_CONCEPTS,
    IAB_TOPICS,
    LOGOS,
    SILENCE,
    VISUAL_CONCEPTS,
    Concept,
)

# Concept-seconds per video second, as measured in the real 113-minute file.
_VISUAL_DENSITY = 3.8
_AUDIO_DENSITY = 1.4
_LOGO_DENSITY = 0.05


def confidence(rng: random.Random, low: float = 0.5) -> float:
    """A confidence in [low, 1] with three decimals, leaning high as Valossa's do."""
    return round(low + (1 - low) * float(rng.random() ** 0.6), 3)


def whole_second_occs(
    rng: random.Random, duration_s: float, target_s: float, mean_len_s: float
) -> list[Occ]:
    """Non-overlapping whole-second occurrences covering about target_s seconds."""
    last = math.floor(duration_s)
    if last < 1:
        return []
    n = min(last, max(1, round(target_s / mean_len_s)))
    starts = sorted(rng.sample(range(last), n))
    occs = []
    for start, nxt in zip(starts, [*starts[1:], last], strict=True):
        length = 1 + int(rng.expovariate(1 / max(mean_len_s - 1, 0.1)))
        occs.append(Occ(float(start), float(min(start + length, nxt)), confidence(rng)))
    return occs


def pick(concepts: Sequence[Concept], n: int, rng: random.Random) -> list[Concept]:
    # Keep the common concepts near the top while letting each job reorder them a little.
    ranked = sorted(range(len(concepts)), key=lambda i: i + rng.uniform(0, 12))
    return [concepts[i] for i in ranked[:n]]


def _add_concepts(
    builder: CoreBuilder,
    t: str,
    concepts: Sequence[Concept],
    density: float,
    with_gkg: bool = True,
) -> None:
    rng, duration = builder.rng, builder.duration_s
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(concepts))]
    total = sum(weights)
    for concept, weight in zip(concepts, weights, strict=True):
        target = duration * density * weight / total
        occs = whole_second_occs(rng, duration, target, mean_len_s=2 + 6 * weight)
        if not occs:
            continue
        fields: dict[str, object] = {"cid": concept.cid}
        if with_gkg:
            fields["ext_refs"] = {"gkg": {"id": concept.gkg_id}}
        if concept.tags:
            fields["categ"] = {"tags": list(concept.tags)}
        builder.add(t, concept.label, occs, prominence=sum(o.se - o.ss for o in occs), **fields)


def add_visual_context(builder: CoreBuilder) -> None:
    """Objects, scenes and actions; more distinct concepts in longer videos."""
    minutes = builder.duration_s / 60
    n = min(len(VISUAL_CONCEPTS), round(12 + 4 * minutes))
    concepts = pick(VISUAL_CONCEPTS, n, builder.rng)
    _add_concepts(builder, "visual.context", concepts, _VISUAL_DENSITY)


def add_audio_context(builder: CoreBuilder) -> None:
    """Sounds and music of an audio track that was not analysed (no silence: it is unknown)."""
    minutes = builder.duration_s / 60
    heard = [c for c in AUDIO_CONCEPTS if c.label != SILENCE]
    n = min(len(heard), round(4 + 2 * minutes))
    concepts = pick(heard, n, builder.rng)
    _add_concepts(builder, "audio.context", concepts, _AUDIO_DENSITY)


def add_logos(builder: CoreBuilder) -> None:
    """A few brand logos (visual.object.localized); their boxes go to seconds/frames_objects."""
    n = 1 + builder.rng.randrange(min(3, len(LOGOS)))
    _add_concepts(
        builder,
        "visual.object.localized",
        pick(LOGOS, n, builder.rng),
        _LOGO_DENSITY,
        with_gkg=False,
    )


def add_topics(builder: CoreBuilder, t: str) -> None:
    """Video-level IAB categories (no occurrences) of one source, e.g. topic.iab.visual."""
    rng = builder.rng
    for rank, (iab_id, hierarchy) in enumerate(rng.sample(IAB_TOPICS, 2 + rng.randrange(3))):
        builder.add(
            t,
            hierarchy[-1],
            None,
            prominence=-rank,
            ext_refs={"iab": {"id": iab_id, "labels_hierarchy": list(hierarchy)}},
        )
