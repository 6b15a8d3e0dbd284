"""Tell, from a file's first bytes, that it is certainly not a video (a web page, an archive).

Only files that are known to be something else are named: a video container we do not know
must still reach Valossa, which decides what it can analyse. What is caught here is what a
wrong link usually returns: a login or error page, a JSON answer, a compressed or zipped file,
a document or an image.
"""

from __future__ import annotations

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
)
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}
_BOM = b"\xef\xbb\xbf"


def not_a_video(head: bytes) -> str | None:
    """What the file starting with `head` is, if certainly not a video; else None."""
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            return what
    text = head.removeprefix(_BOM).lstrip()
    lowered = text[:256].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in lowered:
        return "an HTML page"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<"):
        return "an XML document"
    if lowered.startswith((b"{", b"[")) and _is_text(text):
        return "JSON data"
    if len(head) >= 16 and _is_text(head.removeprefix(_BOM)):
        return "plain text"
    return None


def _is_text(data: bytes) -> bool:
    # Multi-byte UTF-8 in text is fine; a video header always has control bytes (box sizes).
    return all(byte in _TEXT_BYTES or byte >= 0x80 for byte in data)
