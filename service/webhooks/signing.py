"""Standard Webhooks secrets and signatures (the reference `standardwebhooks` package signs).

A secret is `whsec_` + base64 of at least 24 random bytes. CMS_WEBHOOK_SECRET may hold several
(comma- or space-separated) while the CMS rotates: every delivery then carries one signature per
secret, space-separated in `webhook-signature`, and the CMS's library accepts any that it knows.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
NEW_SECRET_BYTES = 32


class InvalidWebhookSecret(ValueError):
    """A secret is not in the Standard Webhooks form; the message never contains it."""


def parse_secrets(raw: str) -> list[str]:
    """The secrets listed in CMS_WEBHOOK_SECRET, each checked; the first is the newest."""
    entries = [entry for entry in re.split(r"[,\s]+", raw) if entry]
    if not entries:
        raise InvalidWebhookSecret("CMS_WEBHOOK_SECRET is empty")
    for position, entry in enumerate(entries, start=1):
        _check(entry, position=position, count=len(entries))
    return entries


def _check(secret: str, *, position: int, count: int) -> None:
    which = f"secret {position} of {count}" if count > 1 else "the secret"
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidWebhookSecret(
            f"CMS_WEBHOOK_SECRET: {which} does not start with {SECRET_PREFIX!r} "
            "(make one with `valossa-ingest webhook-secret`)"
        )
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidWebhookSecret(
            f"CMS_WEBHOOK_SECRET: {which} is not valid base64 after {SECRET_PREFIX!r}"
        ) from None
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"CMS_WEBHOOK_SECRET: {which} decodes to {len(key)} bytes; at least "
            f"{MIN_SECRET_BYTES} are required (make one with `valossa-ingest webhook-secret`)"
        )


def new_secret() -> str:
    """A fresh random secret in the Standard Webhooks form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(NEW_SECRET_BYTES)).decode()


def signed_headers(
    secrets_in_use: Sequence[str], message_id: str, body: str, *, now: datetime | None = None
) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` (now, in whole seconds) and `webhook-signature` (one
    `v1,<base64>` per secret, space-separated) of one attempt to send `body`."""
    timestamp = math.floor((now or datetime.now(UTC)).timestamp())
    at = datetime.fromtimestamp(timestamp, UTC)
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in secrets_in_use]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
