"""Keywords from the customer's texts: transcript (transcript.*), title/description (external.*)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from service.emulator.media import SrtCue
from service.emulator.metadata.document import CoreBuilder, Occ
from service.emulator.metadata.vocabulary import (
    LOCATIONS,
    NOVELTY_WORDS,
    ORGANIZATIONS,
    PERSON_NAMES,
    STOPWORDS,
)

_KNOWN_NAMES = (
    *(("name.person", n) for n in PERSON_NAMES),
    *(("name.location", n) for n in LOCATIONS),
    *(("name.organization", n) for n in ORGANIZATIONS),
)
_WORD = re.compile(r"[^\W\d_][\w'.-]*[^\W_]|[^\W\d_]")
_MAX_KEYWORDS = 250


def find_keywords(text: str) -> list[tuple[str, str]]:
    """(kind, keyword) pairs in a text: known names, other capitalised names, uncommon words."""
    found = [(kind, name) for kind, name in _KNOWN_NAMES if name in text]
    taken = " ".join(name for _, name in found)
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for position, word in enumerate(_WORD.findall(sentence)):
            lower = word.lower()
            if lower in STOPWORDS or word in taken or len(word) < 3:
                continue
            if word[0].isupper() and position > 0:
                found.append(("name.general", word))
            elif lower in NOVELTY_WORDS or (len(lower) >= 9 and word.islower()):
                found.append(("novelty_word", lower))
    return list(dict.fromkeys(found))


def add_transcript_keywords(builder: CoreBuilder, transcript: Sequence[SrtCue]) -> None:
    """transcript.keyword.* detections located at the cues that mention them."""
    mentions: dict[tuple[str, str], list[Occ]] = defaultdict(list)
    for cue in transcript:
        if cue.start_s >= builder.duration_s:
            continue
        occ = Occ(round(cue.start_s, 3), round(min(cue.end_s, builder.duration_s), 3))
        for keyword in find_keywords(cue.text.replace("\n", " ")):
            mentions[keyword].append(occ)
    ranked = sorted(mentions.items(), key=lambda item: -len(item[1]))[:_MAX_KEYWORDS]
    for (kind, word), occs in ranked:
        builder.add(f"transcript.keyword.{kind}", word, occs, prominence=len(occs))


def add_external_keywords(builder: CoreBuilder, texts: Iterable[str | None]) -> None:
    """external.keyword.* concepts (no occurrences) from the title and the description."""
    text = ". ".join(t for t in texts if t)
    found = find_keywords(text)
    # Titles are short: every remaining content word counts as a topical keyword.
    named = {word.lower() for _, word in found}
    found += [
        ("novelty_word", lower)
        for lower in dict.fromkeys(w.lower() for w in _WORD.findall(text))
        if len(lower) >= 4 and lower not in STOPWORDS and lower not in named
    ]
    for rank, (kind, word) in enumerate(found[:_MAX_KEYWORDS]):
        builder.add(f"external.keyword.{kind}", word, None, prominence=-rank)
