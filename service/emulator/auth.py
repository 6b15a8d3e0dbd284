"""API keys: constant-time checks, and the fingerprint that stands for a key everywhere else."""

from __future__ import annotations

import hashlib
import hmac

from service.emulator.errors import Unauthorized


def fingerprint(api_key: str) -> str:
    """A stable, non-secret name for a key (what admin endpoints show instead of the key)."""
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def authenticate(accepted: list[str], api_key: object) -> str:
    """The fingerprint of `api_key` if it is accepted, else 401 "Invalid API key"."""
    if not isinstance(api_key, str) or not api_key:
        raise Unauthorized("Invalid API key")
    given = api_key.encode()
    # Compare against every key so timing reveals neither the match nor its position.
    matched = False
    for key in accepted:
        matched |= hmac.compare_digest(given, key.encode())
    if not matched:
        raise Unauthorized("Invalid API key")
    return fingerprint(api_key)
