"""Schemathesis hooks for the two rules of our API that a schema cannot say.

Schema-valid requests must be accepted (the `positive_data_acceptance` check), but:
- a `cursor` is opaque: only a `next_cursor` this API made is valid (else 400);
- an `Idempotency-Key` sent again with another body is refused (422, as the IETF draft says).
So positive cases get a cursor encoded as the API encodes them and a key of their own; negative
cases are left as generated.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import schemathesis
from schemathesis import Case, HookContext

from service.analyses.flows.analyses import encode_cursor


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if case.query and isinstance(case.query.get("cursor"), str):
        case.query["cursor"] = encode_cursor(datetime.now(UTC), uuid.uuid4())
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    return case
