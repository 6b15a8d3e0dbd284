"""Speech analysis: audio.speech segments and the audio.keyword.* found in what was said.

Sentences are placed where the media has voice-band energy (or, for media that was not
analysed, on a seeded rhythm of talk and pauses). Only US English gets spoken keywords and
sentiment; other languages get the transcript alone (see languages.py).
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from service.emulator.languages import PHRASES, full_speech_analysis
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
_MIN_SENTENCE_S = 0.25
_GAP_S = 0.1

Span = tuple[float, float]


@dataclass(frozen=True)
class Sentence:
    """One spoken sentence and the keywords (kind, word) it contains."""

    text: str
    ss: float
    se: float
    keywords: tuple[tuple[str, str], ...]


def seeded_speech_spans(rng: random.Random, duration_s: float) -> list[Span]:
    """Stretches of talk with pauses, for media whose sound was not analysed."""
    spans = []
    t = rng.uniform(0.3, 2.0)
    while t < duration_s - 0.5:
        se = min(t + rng.uniform(2.0, 12.0), duration_s)
        spans.append((round(t, 3), round(se, 3)))
        pause = rng.uniform(8, 30) if rng.random() < 0.1 else 0.3 + rng.expovariate(1 / 1.2)
        t = se + pause
    return spans


def make_sentences(rng: random.Random, spans: Sequence[Span], language: str) -> list[Sentence]:
    """Sentences one after another inside each span of speech, in the job's language."""
    sentences = []
    for start, end in spans:
        t = start
        while end - t >= _MIN_SENTENCE_S:
            text, keywords = _sentence(rng, language)
            se = min(t + (0.6 + 0.065 * len(text)) * rng.uniform(0.85, 1.2), end)
            sentences.append(Sentence(text, round(t, 3), round(se, 3), keywords))
            t = se + _GAP_S
    return sentences


def _sentence(rng: random.Random, language: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    phrases = PHRASES.get(language)
    if phrases is not None:
        return rng.choice(phrases), ()
    return _fill(rng.choice(SPEECH_TEMPLATES), rng)


def _fill(template: str, rng: random.Random) -> tuple[str, tuple[tuple[str, str], ...]]:
    keywords: list[tuple[str, str]] = []

    def word(match: re.Match[str]) -> str:
        kind, words = _SLOTS[match.group(1)]
        chosen = rng.choice(words)
        keywords.append((kind, chosen))
        return chosen

    return re.sub(r"\{(\w)\}", word, template), tuple(keywords)


def add_speech(builder: CoreBuilder, sentences: list[Sentence], language: str) -> None:
    """audio.speech segments; for US English with text sentiment and audio.keyword.* too."""
    full = full_speech_analysis(language)
    mentions: dict[tuple[str, str], list[Occ]] = defaultdict(list)
    for sentence in sentences:
        sentiment = round(builder.rng.uniform(-1, 1), 3)
        occs = [Occ(sentence.ss, sentence.se)]
        if full:
            builder.add("audio.speech", sentence.text, occs, a={"sen": {"val": sentiment}})
        else:
            builder.add("audio.speech", sentence.text, occs)
        for keyword in dict.fromkeys(sentence.keywords):
            mentions[keyword].append(Occ(sentence.ss, sentence.se))
    if not full:
        return
    for (kind, word), occs in mentions.items():
        builder.add(f"audio.keyword.{kind}", word, occs, prominence=len(occs))
