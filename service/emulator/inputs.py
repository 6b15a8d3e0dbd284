"""Reading requests the way Valossa documents them: JSON bodies, multipart forms, query strings."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from service.emulator.errors import BadRequest

MAX_JSON_BYTES = 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object in the body, or 400 "Malformed request body"."""
    if "json" not in request.headers.get("content-type", "").lower():
        raise BadRequest("Malformed request body")
    if int(request.headers.get("content-length") or 0) > MAX_JSON_BYTES:
        raise BadRequest("Request body too large")
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Malformed request body") from exc
    if not isinstance(data, dict):
        raise BadRequest("Malformed request body")
    return data


def validate(model: type[Model], data: dict[str, Any]) -> Model:
    """Validate a body; the first problem becomes a 400 naming the field by its path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            raise BadRequest(f"Missing required field: {path}") from None
        if error["type"] == "extra_forbidden":
            raise BadRequest(f"Invalid value for field: {path} (not an allowed field)") from None
        raise BadRequest(f"Invalid value for field: {path} ({error['msg']})") from None


async def form_body(request: Request) -> FormData:
    """The multipart form, or 400 when the request is not multipart/form-data."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise BadRequest("The Content-Type of this request must be multipart/form-data")
    try:
        return await request.form(max_files=1, max_fields=32)
    except Exception as exc:  # the multipart parser raises several unrelated types
        raise BadRequest("Malformed request body") from exc


def form_text(form: FormData, name: str) -> str:
    """A required text field of a form."""
    value = form.get(name)
    if value is None or value == "":
        raise BadRequest(f"Missing required field: {name}")
    if not isinstance(value, str):
        raise BadRequest(f"Invalid value for field: {name} (expected text, got a file)")
    return value


def form_int(form: FormData, name: str) -> int:
    """A required integer field of a form."""
    text = form_text(form, name)
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"Invalid value for field: {name} (expected an integer)") from None


def form_file(form: FormData, name: str) -> UploadFile:
    """A required file field of a form."""
    value = form.get(name)
    if value is None:
        raise BadRequest(f"Missing required field: {name}")
    if isinstance(value, str):
        raise BadRequest(f"Invalid value for field: {name} (expected a file)")
    return value


def query_bool(value: str | None, name: str) -> bool:
    """A true/false query parameter; absent means false."""
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise BadRequest(f"Invalid value for parameter: {name} (expected true or false)")


def query_int(value: str | None, name: str, *, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"Invalid value for parameter: {name} (expected an integer)") from None
    if not low <= number <= high:
        raise BadRequest(f"Invalid value for parameter: {name} (must be {low}..{high})")
    return number
