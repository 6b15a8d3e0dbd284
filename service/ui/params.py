"""Numbers typed into the operator page's GET forms: an empty field means "not set", anything
else must be a number in range, or the page says which field is wrong (never a JSON 422)."""

from __future__ import annotations

import math

from service.errors import Unprocessable


def number(raw: str, field: str, *, low: float = 0.0, high: float | None = None) -> float | None:
    """The field's value, None when empty; Unprocessable naming the field otherwise."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Unprocessable(f"{field}: {text[:40]!r} is not a number") from None
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        limits = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise Unprocessable(f"{field}: must be {limits}")
    return value


def whole_number(raw: str, field: str) -> int | None:
    """A whole number of seconds (at least 0), None when empty."""
    value = number(raw, field)
    if value is None:
        return None
    if not value.is_integer():
        raise Unprocessable(f"{field}: must be a whole number of seconds")
    return int(value)
