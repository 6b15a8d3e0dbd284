"""Schemathesis hooks for the rules of our API that a schema cannot say.

Schema-valid requests must be accepted (the `positive_data_acceptance` check), but:
- a `cursor` is opaque: only a `next_cursor` this API made is valid (else 400); search cursors
  are also bound to their search;
- an `Idempotency-Key` sent again with another body is refused (422, as the IETF draft says);
- `face_gallery_id` must name a face gallery we know (422 otherwise);
- a search needs `q` or `face` (422 without either), and `from` not after `to`;
- a training image must be a real JPG/PNG (422 otherwise);
- an update of a face must change something (422 for an empty one);
- a chunk of a direct upload must fit the upload it names (index and size; 422 otherwise),
  which a generated request cannot know: those positive cases are not generated.
So positive cases get what those rules ask for; negative cases are left as generated.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import schemathesis
from schemathesis import Case, HookContext

from service.analyses.flows.analyses import encode_cursor
from tests.support.images import png


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    route = (case.method.upper(), case.operation.path)
    if case.query and isinstance(case.query.get("cursor"), str):
        if route == ("GET", "/v1/search"):
            del case.query["cursor"]
        else:
            case.query["cursor"] = encode_cursor(datetime.now(UTC), uuid.uuid4())
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    if route == ("POST", "/v1/analyses") and isinstance(case.body, dict):
        case.body.pop("face_gallery_id", None)
    if route == ("GET", "/v1/search"):
        case.query = case.query or {}
        if not case.query.get("q") and not case.query.get("face"):
            case.query["q"] = "airplane"
        start, end = _number(case.query.get("from")), _number(case.query.get("to"))
        if start is not None and end is not None and end < start:
            case.query["from"], case.query["to"] = case.query["to"], case.query["from"]
    if route == ("POST", "/v1/faces/{face_id}/images") and isinstance(case.body, dict):
        case.body["image"] = png(8, 8)
    if route == ("PATCH", "/v1/faces/{face_id}") and case.body == {}:
        case.body = {"name": "Ricky Rickson"}
    return case


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def filter_case(context: HookContext, case: Case) -> bool:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return True
    return (case.method.upper(), case.operation.path) != (
        "PUT",
        "/v1/uploads/{upload_id}/chunks/{index}",
    )
