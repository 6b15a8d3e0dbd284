"""What the emulator derives from the media itself: shots, dominant colours, speech, silence.

Everything else in a job's results is generated from a seed taken from the file's SHA-256, so
the same file gives the same document whatever job it comes in.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from service.emulator.content.audio import scan_audio
from service.emulator.content.video import Colour, scan_video
from service.emulator.media import TechnicalInfo

__all__ = ["Colour", "MediaFeatures", "Span", "analyse_media", "file_sha256", "read_media"]

Span = tuple[float, float]
HASH_CHUNK = 256 * 1024
#: Files whose features are kept (by SHA-256): a bench or test sends the same clip in many
#: jobs, and decoding it again for each would make the emulator, not the client, the limit.
FEATURE_CACHE_SIZE = 32


@dataclass(frozen=True)
class MediaFeatures:
    """The facts read from a media file (times in seconds)."""

    sha256: str
    cuts: tuple[float, ...]  #: where a new shot starts (0 excluded), ascending
    colours: tuple[tuple[Colour, ...], ...]  #: dominant colours of each whole second
    audio_track: bool  #: the file has an audio stream
    speech: tuple[Span, ...]  #: spans with voice-band energy
    silence: tuple[Span, ...]  #: spans of silence within the audio track


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _FeatureCache:
    """The features of the last FEATURE_CACHE_SIZE files, by SHA-256 and probe (results are
    built in worker threads, hence the lock)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, TechnicalInfo], MediaFeatures] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, TechnicalInfo]) -> MediaFeatures | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, TechnicalInfo], features: MediaFeatures) -> None:
        with self._lock:
            self._entries[key] = features
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


_features = _FeatureCache(FEATURE_CACHE_SIZE)


def analyse_media(path: Path, technical: TechnicalInfo) -> MediaFeatures:
    """Read shots, colours, speech and silence from a probed media file (CPU-bound; the same
    content is read once while it stays among the last FEATURE_CACHE_SIZE files)."""
    sha256 = file_sha256(path)
    cached = _features.get((sha256, technical))
    if cached is not None:
        return cached
    features = read_media(path, technical, sha256=sha256)
    _features.put((sha256, technical), features)
    return features


def read_media(path: Path, technical: TechnicalInfo, *, sha256: str | None = None) -> MediaFeatures:
    """analyse_media without the cache: always decodes the file."""
    video = scan_video(path, technical.duration_s)
    audio = scan_audio(path) if technical.has_audio else None
    return MediaFeatures(
        sha256=sha256 or file_sha256(path),
        cuts=video.cuts,
        colours=video.colours,
        audio_track=audio is not None,
        speech=audio.speech if audio else (),
        silence=audio.silence if audio else (),
    )
