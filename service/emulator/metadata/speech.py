"""Speech analysis: audio.speech segments and the audio.keyword.* found in what was said."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

from service.emulator.metadata.document import CoreBuilder, Occ
from service.emulator.metadata.vocabulary import (
    LOCATIONS,
    NOVELTY_WORDS,
    ORGANIZATIONS,
    PERSON_NAMES,
    SPEECH_TEMPLATES,
)

_SLOTS = {
    "p": ("name.person", PERSON_NAMES),
    "l": ("name.location", LOCATIONS),
    "o": ("name.organization", ORGANIZATIONS),
    "n": ("novelty_word", NOVELTY_WORDS),
}


@dataclass(frozen=True)
class Sentence:
    """One spoken sentence and the keywords (kind, word) it contains."""

    text: str
    ss: float
    se: float
    keywords: tuple[tuple[str, str], ...]


def make_sentences(rng: random.Random, duration_s: float) -> list[Sentence]:
    """Sentences spoken one after another, with pauses and now and then a long silence."""
    sentences = []
    t = rng.uniform(0.3, 2.0)
    while t < duration_s - 0.5:
        text, keywords = _fill(rng.choice(SPEECH_TEMPLATES), rng)
        se = min(t + (0.6 + 0.065 * len(text)) * rng.uniform(0.85, 1.2), duration_s)
        sentences.append(Sentence(text, round(t, 3), round(se, 3), keywords))
        pause = rng.uniform(8, 30) if rng.random() < 0.05 else rng.expovariate(1 / 1.2)
        t = se + 0.1 + pause
    return sentences


def _fill(template: str, rng: random.Random) -> tuple[str, tuple[tuple[str, str], ...]]:
    keywords: list[tuple[str, str]] = []

    def word(match: re.Match[str]) -> str:
        kind, words = _SLOTS[match.group(1)]
        chosen = rng.choice(words)
        keywords.append((kind, chosen))
        return chosen

    return re.sub(r"\{(\w)\}", word, template), tuple(keywords)


def add_speech(builder: CoreBuilder, sentences: list[Sentence]) -> None:
    """audio.speech segments with text sentiment, then audio.keyword.* for the words in them."""
    mentions: dict[tuple[str, str], list[Occ]] = defaultdict(list)
    for sentence in sentences:
        sentiment = round(builder.rng.uniform(-1, 1), 3)
        builder.add(
            "audio.speech",
            sentence.text,
            [Occ(sentence.ss, sentence.se)],
            a={"sen": {"val": sentiment}},
        )
        for keyword in dict.fromkeys(sentence.keywords):
            mentions[keyword].append(Occ(sentence.ss, sentence.se))
    for (kind, word), occs in mentions.items():
        builder.add(f"audio.keyword.{kind}", word, occs, prominence=len(occs))
