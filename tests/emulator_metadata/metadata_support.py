"""Helpers for the results generator tests: example paths, inputs, transcript and gallery."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service.emulator.media import SrtCue, TechnicalInfo
from service.emulator.metadata import GalleryFace, ResultsInput

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "valossa-examples"
REAL_FULL = EXAMPLES / "core-1.3.1-charade.json"
REAL_SUBSET = EXAMPLES / "core-1.3.1-charade-subset-1590-1890s.json"

TRANSCRIPT = (
    SrtCue(1, 1.0, 3.5, "Hello Ada, the City Council called about the stamps."),
    SrtCue(2, 4.0, 6.25, "We met in Lisbon with Mister Lindqvist yesterday."),
    SrtCue(3, 5.5, 9.5, "An extraordinary inheritance!"),
)
GALLERY = (
    GalleryFace("gal-1", "face-a", "Ann Example", "female"),
    GalleryFace("gal-1", "face-b", None, None),
)


def technical(duration_s: float, *, audio: bool = True, fps: float = 25.0) -> TechnicalInfo:
    """Probe-like technical facts of a video."""
    return TechnicalInfo(
        duration_s=duration_s,
        fps=fps,
        x_pixels=1280,
        y_pixels=720,
        video_codec_long="H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
        video_codec_short="h264",
        video_bps=1_500_000,
        audio_codec_long="AAC (Advanced Audio Coding)" if audio else None,
        audio_codec_short="aac" if audio else None,
        audio_bps=128_000 if audio else None,
        n_audio_channels=2 if audio else 0,
        has_audio=audio,
    )


def results_input(
    duration_s: float | None = 60.0,
    *,
    job_id: str = "3f0c7c8e-1b1e-4a55-9d5c-6a1b2c3d4e5f",
    audio: bool = True,
    transcript: Sequence[SrtCue] | None = None,
    gallery: Sequence[GalleryFace] = (),
    fps: float = 25.0,
) -> ResultsInput:
    """A job's results input with a typical new_job request (api_key included, as sent)."""
    request: dict[str, Any] = {
        "api_key": "kkkkkkkkkkkkkkkkkkkk",
        "media": {
            "video": {"url": "https://example.com/video.mp4"},
            "title": "Evening at the Harbour Authority",
            "description": "A thriller in Lisbon about stolen stamps and a missing inheritance.",
            "customer_media_info": {"id": "cms-42"},
        },
        "analysis_parameters": {"face_min_relative_height": 0.1},
        "callback": {"url": "https://example.com/cb/secret-token"},
    }
    tech = technical(duration_s, audio=audio, fps=fps) if duration_s is not None else None
    return ResultsInput(job_id, request, tech, transcript, gallery)
