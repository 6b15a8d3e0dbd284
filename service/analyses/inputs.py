"""What the CMS may send: customer_media_ids and URLs (free text: service/text.py).

Each rule is checked here with a message for the CMS developer and published in the OpenAPI
schema as the same regular expression, written with explicit character classes only, so that
Python, the JSON-schema validators (ECMA-262) and clients all read it the same way.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

from service.text import Rule, storable

#: Python's whitespace (str.isspace), spelled out: `\s` differs between regex engines.
_BLANK = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Not blank, no NUL; and not "." or ".." (MEDIA_ID_EXCLUDED), which URL paths cannot carry.
MEDIA_ID_PATTERN = rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$"
MEDIA_ID_EXCLUDED = (".", "..")

_URL_CHARS = r"[!-~]*"  # printable ASCII: anything else must be percent-encoded
_USERINFO = r"[A-Za-z0-9._~!$&'()*+,;=:%-]*@"
_NAME = r"[A-Za-z0-9._~!$&'()*+,;=%-]+"  # a registered name or IPv4 address (RFC 3986)
_H16 = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
_LS32 = rf"(?:{_H16}:{_H16}|{_IPV4})"
#: RFC 3986's IPv6address, as Python's ipaddress (and urlsplit) accept it.
_IPV6 = (
    "(?:"
    + "|".join(
        [
            rf"(?:{_H16}:){{6}}{_LS32}",
            rf"::(?:{_H16}:){{5}}{_LS32}",
            rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
            rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
            rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
            rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
            rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
            rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
            rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
        ]
    )
    + ")"
)
_HOST = rf"(?:{_NAME}|\[{_IPV6}\])"
_PORT = r"(?:[0-9]{0,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"


def _url_pattern(*schemes: str) -> str:
    return (
        rf"^(?:{'|'.join(schemes)})://(?:{_USERINFO})?{_HOST}(?::{_PORT})?(?:[/?#]{_URL_CHARS})?$"
    )


VIDEO_URL_PATTERN = _url_pattern("https?", "s3", "valossaupload")
TRANSCRIPT_URL_PATTERN = _url_pattern("https?", "s3")
SOURCE_URL_PATTERN = _url_pattern("https?")


def media_id(value: str) -> str:
    """`value`, if it can be a customer_media_id (stored, and addressed in a URL path)."""
    storable(value)
    if not re.fullmatch(MEDIA_ID_PATTERN, value):
        raise ValueError("must not be only whitespace")
    if value in MEDIA_ID_EXCLUDED:
        raise ValueError(
            "must not be '.' or '..': HTTP clients remove such path segments, so "
            "/v1/media/{customer_media_id} could never reach it"
        )
    return value


def _url(pattern: str, schemes: str) -> Rule:
    def check(value: str) -> str:
        storable(value)
        if not re.fullmatch(pattern, value):
            raise ValueError(
                f"must be a URL starting with {schemes} and naming a host, in printable "
                "ASCII (percent-encode spaces and other characters)"
            )
        return value

    return Rule(check, pattern)


#: A file name: not blank, no control characters.
FILENAME_PATTERN = rf"^[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f{_BLANK}][^\x00-\x1f\x7f]*$"


def filename(value: str) -> str:
    """`value` if it can name a file, else ValueError."""
    storable(value)
    if not re.fullmatch(FILENAME_PATTERN, value):
        raise ValueError("must be a file name: not blank, without control characters")
    return value


MediaId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    Rule(media_id, MEDIA_ID_PATTERN, {"not": {"enum": list(MEDIA_ID_EXCLUDED)}}),
]
_Url = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
VideoUrl = Annotated[_Url, _url(VIDEO_URL_PATTERN, "http://, https://, s3:// or valossaupload://")]
TranscriptUrl = Annotated[_Url, _url(TRANSCRIPT_URL_PATTERN, "http://, https:// or s3://")]
SourceUrl = Annotated[_Url, _url(SOURCE_URL_PATTERN, "http:// or https://")]
Filename = Annotated[
    str, StringConstraints(min_length=1, max_length=1024), Rule(filename, FILENAME_PATTERN)
]
