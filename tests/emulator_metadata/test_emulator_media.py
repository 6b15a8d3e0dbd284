"""Container sniffing, probing real generated clips, and SRT parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.emulator.media import (
    SNIFF_BYTES,
    parse_srt,
    probe_media,
    sniff_container,
    write_sample_video,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    write_sample_video(path, duration_s=3.0, width=320, height=240, fps=25)
    return path


def test_sample_video_is_written(tmp_path: Path) -> None:
    write_sample_video(tmp_path / "five.mp4")
    assert (tmp_path / "five.mp4").stat().st_size > 10_000


def test_probe_reads_duration_fps_resolution_and_codecs(clip: Path) -> None:
    info = probe_media(clip)
    assert info is not None
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert info.fps == pytest.approx(25.0)
    assert (info.x_pixels, info.y_pixels) == (320, 240)
    assert info.video_codec_short in ("h264", "mpeg4")
    assert (info.has_audio, info.audio_codec_short, info.n_audio_channels) == (True, "aac", 1)
    technical = info.as_metadata()
    assert technical["resolution"] == {"x_pixels": 320, "y_pixels": 240}
    assert technical["audio_codec"]["name_short"] == "aac"


def test_probe_of_a_silent_clip_has_no_audio(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    write_sample_video(path, duration_s=1.0, width=160, height=120, fps=10, audio=False)
    info = probe_media(path)
    assert info is not None
    assert (info.has_audio, info.n_audio_channels, info.fps) == (False, 0, 10.0)
    assert "audio_codec" not in info.as_metadata()


def test_probe_rejects_what_is_not_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video at all\n" * 100)
    assert probe_media(text) is None
    assert probe_media(tmp_path / "missing.mp4") is None


def test_sniff_recognises_a_real_mp4(clip: Path) -> None:
    assert sniff_container(clip.read_bytes()[:SNIFF_BYTES]) == "mp4"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mov"),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x1f\x42\x86\x81\x01B\x82\x84webm", "webm"),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x23\x42\x82\x88matroska", "mkv"),
        (b"RIFF\x24\x00\x10\x00AVI LIST", "avi"),
        (b"FLV\x01\x05\x00\x00\x00\x09", "flv"),
        (b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01", "mpeg-ps"),
        ((b"\x47" + b"\xff" * 187) * 3, "mpeg-ts"),
        ((b"\x00\x00\x00\x00\x47" + b"\xff" * 187) * 3, "mpeg-ts"),
    ],
)
def test_sniff_recognises_accepted_containers(head: bytes, expected: str) -> None:
    assert sniff_container(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"<!DOCTYPE html><html><body>video</body></html>",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        b"%PDF-1.7\n",
        b"1\n00:00:01,000 --> 00:00:02,000\nhi\n",
        b"\x47" + b"\x00" * 400,  # one sync byte is not a transport stream
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
    ],
)
def test_sniff_refuses_other_files(head: bytes) -> None:
    assert sniff_container(head) is None


def test_parse_srt_reads_cues() -> None:
    text = (
        "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\nthere\r\n\r\n"
        "2\n01:02:03.04 --> 01:02:04,000\nBye\n"
    )
    cues = parse_srt(text)
    assert [(c.index, c.start_s, c.end_s, c.text) for c in cues] == [
        (1, 1.0, 2.5, "Hello\nthere"),
        (2, 3723.04, 3724.0, "Bye"),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\n ", "empty"),
        ("hello world\nno cues here\n", "cue number"),
        ("1\nnot a timing\ntext\n", "timing line"),
        ("1\n00:00:05,000 --> 00:00:04,000\ntext\n", "ends before it starts"),
        ("1\n00:00:61,000 --> 00:01:04,000\ntext\n", "invalid timestamp"),
    ],
)
def test_parse_srt_explains_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_srt(text)
