"""What the emulator derives from the media itself: shots, dominant colours, speech, silence.

Everything else in a job's results is generated from a seed taken from the file's SHA-256, so
the same file gives the same document whatever job it comes in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from service.emulator.content.audio import scan_audio
from service.emulator.content.video import Colour, scan_video
from service.emulator.media import TechnicalInfo

__all__ = ["Colour", "MediaFeatures", "Span", "analyse_media", "file_sha256"]

Span = tuple[float, float]
HASH_CHUNK = 256 * 1024


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


def analyse_media(path: Path, technical: TechnicalInfo) -> MediaFeatures:
    """Read shots, colours, speech and silence from a probed media file (CPU-bound)."""
    video = scan_video(path, technical.duration_s)
    audio = scan_audio(path) if technical.has_audio else None
    return MediaFeatures(
        sha256=file_sha256(path),
        cuts=video.cuts,
        colours=video.colours,
        audio_track=audio is not None,
        speech=audio.speech if audio else (),
        silence=audio.silence if audio else (),
    )
