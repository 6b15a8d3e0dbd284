"""CMS authentication: `Authorization: Bearer <token>`, one of INGEST_API_TOKENS."""

from __future__ import annotations

import hmac

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.deps import ResourcesDep
from service.errors import Unauthorized

_bearer = HTTPBearer(
    auto_error=False,
    description="One of the tokens in INGEST_API_TOKENS, as `Authorization: Bearer <token>`.",
)


def token_accepted(given: str, accepted: list[str]) -> bool:
    """True if `given` is one of `accepted`, compared in constant time against every token."""
    presented = given.encode()
    matched = False
    for token in accepted:
        matched |= hmac.compare_digest(presented, token.encode())
    return matched


async def require_cms_token(
    resources: ResourcesDep,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> None:
    """Reject the request with 401 unless it carries an accepted bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
    if not token_accepted(credentials.credentials, resources.settings.api_tokens):
        raise Unauthorized("invalid bearer token")
