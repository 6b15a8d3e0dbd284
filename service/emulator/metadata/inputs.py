"""What a job gives the results generator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.emulator.content import MediaFeatures
from service.emulator.media import SrtCue, TechnicalInfo


@dataclass(frozen=True)
class GalleryFace:
    """A trained identity of the face gallery the job used."""

    gallery_id: str
    face_id: str
    name: str | None
    gender: str | None


@dataclass(frozen=True)
class ResultsInput:
    """What one job's results are generated from (request: new_job's body without api_key)."""

    job_id: str
    request: Mapping[str, Any]
    technical: TechnicalInfo | None
    transcript: Sequence[SrtCue] | None
    gallery_faces: Sequence[GalleryFace] = ()
    features: MediaFeatures | None = None  #: what the media itself showed; None: not analysed
