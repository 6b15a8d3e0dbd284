"""Media handling for the emulator: container sniffing, probing, sample videos and SRT parsing."""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

#: How many leading bytes `sniff_container` needs to recognise every supported container.
#: MPEG-TS needs three 188-byte packets (or 192-byte M2TS packets) to be told from noise.
SNIFF_BYTES = 600

_TS_PACKET = 188
_M2TS_PACKET = 192
_QUICKTIME_BRANDS = (b"qt  ",)
_NOT_VIDEO_FORMATS = frozenset({"tty", "image2", "lavfi", "bin", "xbin", "adf", "idf"})
_MP4_BOX_TYPES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


@dataclass(frozen=True)
class TechnicalInfo:
    """What Valossa reports about a media file in `media_info.technical`."""

    duration_s: float
    fps: float | None
    x_pixels: int | None
    y_pixels: int | None
    video_codec_long: str | None
    video_codec_short: str | None
    video_bps: int | None
    audio_codec_long: str | None
    audio_codec_short: str | None
    audio_bps: int | None
    n_audio_channels: int
    has_audio: bool

    def as_metadata(self) -> dict[str, Any]:
        """Return the `media_info.technical` object in Valossa's shape."""
        technical: dict[str, Any] = {"duration_s": round(self.duration_s, 6)}
        if self.fps is not None:
            technical["fps"] = round(self.fps, 3)
        if self.x_pixels is not None and self.y_pixels is not None:
            technical["resolution"] = {"x_pixels": self.x_pixels, "y_pixels": self.y_pixels}
        if self.video_codec_short is not None:
            technical["video_codec"] = {
                "name_long": self.video_codec_long,
                "name_short": self.video_codec_short,
                "bps": self.video_bps,
            }
        if self.has_audio:
            technical["audio_codec"] = {
                "name_long": self.audio_codec_long,
                "name_short": self.audio_codec_short,
                "bps": self.audio_bps,
            }
        technical["n_audio_channels"] = self.n_audio_channels
        return technical


def sniff_container(head: bytes) -> str | None:
    """Name the container the first `SNIFF_BYTES` bytes belong to, or None if not accepted media."""
    if len(head) >= 12 and head[4:8] in _MP4_BOX_TYPES:
        if head[4:8] == b"ftyp" and head[8:12] in _QUICKTIME_BRANDS:
            return "mov"
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg-ps"
    if _has_ts_sync(head, offset=0, packet=_TS_PACKET) or _has_ts_sync(
        head, offset=4, packet=_M2TS_PACKET
    ):
        return "mpeg-ts"
    return None


def _has_ts_sync(head: bytes, *, offset: int, packet: int) -> bool:
    # One 0x47 byte is common in any file; three at packet spacing is a transport stream.
    positions = [offset + i * packet for i in range(3)]
    return positions[-1] < len(head) and all(head[p] == 0x47 for p in positions)


def probe_media(path: Path) -> TechnicalInfo | None:
    """Read the technical facts of a media file, or None if it has no decodable video stream."""
    try:
        with av.open(str(path)) as container:
            return _technical_info(container)
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return None


def _is_still_or_text(format_name: str) -> bool:
    # FFmpeg opens text as "tty" ANSI-art video and single images as one-frame videos.
    names = format_name.split(",")
    return any(n in _NOT_VIDEO_FORMATS or n.endswith("_pipe") for n in names)


def _technical_info(container: Any) -> TechnicalInfo | None:
    video = next(iter(container.streams.video), None)
    if video is None or _is_still_or_text(container.format.name):
        return None
    audio = next(iter(container.streams.audio), None)
    duration_s = _duration_s(container, video)
    if duration_s is None:
        return None
    rate = video.average_rate or video.guessed_rate
    video_ctx = video.codec_context
    audio_ctx = audio.codec_context if audio is not None else None
    return TechnicalInfo(
        duration_s=duration_s,
        fps=float(rate) if rate else None,
        x_pixels=video_ctx.width or None,
        y_pixels=video_ctx.height or None,
        video_codec_long=video_ctx.codec.long_name,
        video_codec_short=video_ctx.codec.name,
        video_bps=video.bit_rate or video_ctx.bit_rate or None,
        audio_codec_long=audio_ctx.codec.long_name if audio_ctx else None,
        audio_codec_short=audio_ctx.codec.name if audio_ctx else None,
        audio_bps=(audio.bit_rate or audio_ctx.bit_rate or None) if audio and audio_ctx else None,
        n_audio_channels=audio_ctx.channels if audio_ctx else 0,
        has_audio=audio is not None,
    )


def _duration_s(container: Any, video: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return float(Fraction(container.duration, av.time_base))
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    return None


def write_sample_video(
    path: Path,
    *,
    duration_s: float = 5.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    audio: bool = True,
    audio_level: float = 0.3,
    scene_s: float | None = 2.0,
) -> None:
    """Write a small real MP4: H.264 video of scenes that cut every `scene_s` seconds, each a
    moving pattern in its own colours; optionally an AAC track of speech-like bursts of a tone
    with pauses (`audio_level` 0 makes it a silent track)."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    n_frames = max(1, round(duration_s * fps))
    with av.open(str(path), mode="w", format="mp4") as container:
        video: Any = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            video.options = {"preset": "ultrafast", "tune": "zerolatency"}
        tone = container.add_stream("aac", rate=44100, layout="mono") if audio else None
        for index in range(n_frames):
            scene = int(index / fps / scene_s) if scene_s else 0
            container.mux(video.encode(_pattern_frame(index, scene, width, height)))
        container.mux(video.encode(None))
        if tone is not None:
            _write_tone(container, tone, duration_s, audio_level)


#: Chroma (U, V) of each scene of the sample video, far apart so that every cut is clear.
_SCENE_CHROMA = ((90, 200), (200, 90), (60, 60), (190, 190), (128, 40), (40, 128))
#: Speech-like rhythm of the sample's sound: (seconds of tone, seconds of pause), repeated.
_SPOKEN_S, _PAUSE_S, _LEAD_IN_S = 1.6, 0.6, 0.4


def _pattern_frame(index: int, scene: int, width: int, height: int) -> Any:
    frame = av.VideoFrame(width, height, "yuv420p")
    # A diagonal gradient that scrolls one step per frame, so encoders see real motion.
    luma = frame.planes[0]
    period = bytes((x * 4) % 256 for x in range(256))
    wide = period * (math.ceil((luma.line_size + height + 256) / 256) + 1)
    shift = (index * 3 + scene * 97) % 256
    rows = b"".join(wide[shift + y : shift + y + luma.line_size] for y in range(luma.height))
    luma.update(rows)
    u, v = _SCENE_CHROMA[scene % len(_SCENE_CHROMA)]
    for plane, value in ((frame.planes[1], u), (frame.planes[2], v)):
        plane.update(bytes([value]) * (plane.line_size * plane.height))
    frame.pts = index
    return frame


def _write_tone(container: Any, stream: Any, duration_s: float, level: float) -> None:
    rate, samples_per_frame = 44100, 1024
    total = round(duration_s * rate)
    omega = 2 * math.pi * 440 / rate
    cycle = _SPOKEN_S + _PAUSE_S

    def sample(i: int) -> float:
        t = i / rate - _LEAD_IN_S
        return level * math.sin(omega * i) if t >= 0 and t % cycle < _SPOKEN_S else 0.0

    for start in range(0, total, samples_per_frame):
        count = min(samples_per_frame, total - start)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
        frame.planes[0].update(
            struct.pack(f"<{count}f", *(sample(start + i) for i in range(count)))
        )
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


@dataclass(frozen=True)
class SrtCue:
    """One numbered subtitle cue of an SRT file."""

    index: int
    start_s: float
    end_s: float
    text: str


_TIMING = re.compile(
    r"^\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
)


def parse_srt(text: str) -> list[SrtCue]:
    """Parse SRT text into cues; raise ValueError saying why if it is not valid SRT."""
    blocks = [
        b for b in re.split(r"\n\s*\n", text.lstrip("\ufeff").replace("\r\n", "\n")) if b.strip()
    ]
    if not blocks:
        raise ValueError("the SRT file is empty")
    return [_parse_block(block, number) for number, block in enumerate(blocks, start=1)]


def _parse_block(block: str, number: int) -> SrtCue:
    lines = block.strip("\n").split("\n")
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise ValueError(f"SRT block {number} does not start with a cue number and a timing line")
    match = _TIMING.match(lines[1])
    if match is None:
        raise ValueError(f"SRT block {number} has no 'HH:MM:SS,mmm --> HH:MM:SS,mmm' timing line")
    groups = match.groups()
    start_s = _seconds(groups[:4], number)
    end_s = _seconds(groups[4:], number)
    if end_s < start_s:
        raise ValueError(f"SRT cue {lines[0].strip()} ends before it starts")
    return SrtCue(int(lines[0].strip()), start_s, end_s, "\n".join(lines[2:]).strip())


def _seconds(parts: tuple[str | Any, ...], number: int) -> float:
    hours, minutes, seconds = (int(p) for p in parts[:3])
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"SRT block {number} has an invalid timestamp")
    # A fraction written with fewer than three digits is still a decimal fraction (",5" = 500 ms).
    millis = int(str(parts[3]).ljust(3, "0"))
    # Whole milliseconds divided once, so "00:00:01,235" is exactly 1.235.
    return (((hours * 60 + minutes) * 60 + seconds) * 1000 + millis) / 1000
