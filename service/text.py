"""Text that Postgres can store: the rule every string from outside obeys before it reaches a
query (request bodies, path and query parameters, form fields), shared by every domain.

Postgres text cannot hold NUL, and UTF-16 surrogates have no UTF-8 form (JSON can still spell
them, as `"\\ud800"`): either one in a query parameter fails the statement with a DataError.
The rule is checked here with a message for the client and published in the OpenAPI schema as
the same regular expression. Text from Valossa is not refused but made storable: NUL and lone
surrogates become U+FFFD (`scrub`, and `StorableJsonEscapes` for JSON before it is parsed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

_SURROGATES = re.compile("[\ud800-\udfff]")

#: Postgres text cannot hold NUL.
TEXT_PATTERN = r"^[^\x00]*$"


def storable(value: str) -> str:
    """`value`, if Postgres can store it; else a ValueError that says why."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (U+0000)")
    if _SURROGATES.search(value):
        raise ValueError("must not contain unpaired surrogates (U+D800 to U+DFFF)")
    return value


def scrub(value: str) -> str:
    """`value` with every NUL and unpaired surrogate replaced by U+FFFD, for text that comes
    from elsewhere (Valossa's results) and must be stored whatever it holds."""
    if "\x00" not in value and not _SURROGATES.search(value):
        return value
    return _SURROGATES.sub("\ufffd", value.replace("\x00", "\ufffd"))


@dataclass(frozen=True, eq=False)  # hashed by identity: typing hashes Annotated metadata
class Rule:
    """A string rule: `check` validates (with its own messages), `pattern` documents it."""

    check: Callable[[str], str]
    pattern: str
    extra_schema: dict[str, Any] = field(default_factory=dict)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(pattern=self.pattern, **self.extra_schema)
        return json_schema


#: A JSON escape: a surrogate pair, NUL, a lone surrogate, or any other (`\\`, `\"`, `\u00e9`).
_ESCAPE = re.compile(
    rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|u0000|u[dD][89a-fA-F][0-9a-fA-F]{2}|.)",
    re.DOTALL,
)
#: The longest escape `_ESCAPE` matches (a surrogate pair).
_LONGEST_ESCAPE = 12


class StorableJsonEscapes:
    """Rewrites the JSON escapes of text Postgres cannot store, `\\u0000` and lone surrogates,
    as `\\ufffd` before a parser sees them: Valossa may send them in any string, text and
    jsonb columns refuse both, and parsers refuse (pydantic) or fail on (ijson's C backend)
    lone surrogates. Fed a document in pieces; an escape cut across two pieces waits for the
    rest."""

    def __init__(self) -> None:
        self._held = b""

    def feed(self, data: bytes, *, final: bool = False) -> bytes:
        buffer = self._held + data
        self._held = b""
        if b"\\" not in buffer:
            return buffer
        out = bytearray()
        end = 0
        for escape in _ESCAPE.finditer(buffer):
            if not final and len(buffer) - escape.start() < _LONGEST_ESCAPE:
                self._held = buffer[escape.start() :]
                return bytes(out + buffer[end : escape.start()])
            out += buffer[end : escape.start()]
            text = escape.group()
            out += text if len(text) in (2, _LONGEST_ESCAPE) else b"\\ufffd"
            end = escape.end()
        rest = buffer[end:]
        if not final and rest.endswith(b"\\"):  # an escape's first byte (a pair was matched)
            self._held, rest = b"\\", rest[:-1]
        return bytes(out + rest)


def storable_json(document: bytes) -> bytes:
    """A whole JSON document with its NUL and lone-surrogate escapes as `\\ufffd`."""
    return StorableJsonEscapes().feed(document, final=True)


#: The rule of free text from a client. Length limits go before it in an Annotated (as
#: StringConstraints), where they are checked and reported as a string's ("at most N characters").
TEXT_RULE = Rule(storable, TEXT_PATTERN)
#: Free text from a client: anything Postgres can store.
Text = Annotated[str, TEXT_RULE]
