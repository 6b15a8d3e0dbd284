"""job_results as a byte stream: metadata can be tens of MB, so it is never buffered here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum

import httpx

from service.valossa.errors import ValossaTransportError


class ResultType(StrEnum):
    """Documented values of job_results' `type` parameter."""

    CORE = "core"
    FRAMES_FACES = "frames_faces"
    FRAMES_OBJECTS = "frames_objects"
    SECONDS_OBJECTS = "seconds_objects"
    SPEECH_TO_TEXT_SRT = "speech_to_text_srt"
    SPEECH_TO_TEXT_VTT = "speech_to_text_vtt"
    SPEECH_TO_TEXT_TTML = "speech_to_text_ttml"
    SPEECH_TO_TEXT_AVID_TXT = "speech_to_text_avid_txt"
    VISUAL_CAPTIONS = "visual_captions"

    @property
    def is_text(self) -> bool:
        """True for the subtitle/transcript types, which are text rather than JSON."""
        return self.value.startswith("speech_to_text_")


class ResultStream:
    """An open job_results response; read it with `aiter_bytes()` inside its context."""

    def __init__(self, response: httpx.Response, *, result_type: ResultType | str) -> None:
        self._response = response
        self.result_type = result_type
        self.content_type: str = response.headers.get("content-type", "")
        length = response.headers.get("content-length")
        self.content_length: int | None = int(length) if length and length.isdigit() else None

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield the body as it arrives (decoded from any transfer encoding, byte-identical)."""
        try:
            async for chunk in self._response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.TransportError as exc:
            # A broken stream is not retried here: the caller restarts from the first byte.
            raise ValossaTransportError(
                f"job_results: {type(exc).__name__} while streaming", function="job_results"
            ) from None

    def __repr__(self) -> str:
        return f"ResultStream(result_type={self.result_type!r}, content_type={self.content_type!r})"
