"""Text that Postgres can store: the rule every string from outside obeys before it reaches a
query (request bodies, path and query parameters, form fields), shared by every domain.

Postgres text cannot hold NUL, and UTF-16 surrogates have no UTF-8 form (JSON can still spell
them, as `"\\ud800"`): either one in a query parameter fails the statement with a DataError.
The rule is checked here with a message for the client and published in the OpenAPI schema as
the same regular expression.
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


#: Free text from a client: anything Postgres can store.
Text = Annotated[str, Rule(storable, TEXT_PATTERN)]
