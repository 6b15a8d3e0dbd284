"""CMS authentication: `Authorization: Bearer <token>`, one of INGEST_API_TOKENS."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

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


def token_fingerprint(token: str) -> str:
    """A non-secret label of a CMS token: `token-` and the first 12 hex digits of its SHA-256.

    Stored as `created_by` and kept in operator sessions instead of the token itself; an
    operator finds which token it is with `printf %s "$TOKEN" | sha256sum | cut -c1-12`.
    """
    return f"token-{hashlib.sha256(token.encode()).hexdigest()[:12]}"


async def require_cms_token(
    resources: ResourcesDep,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    """Reject the request with 401 unless it carries an accepted bearer token; its fingerprint."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
    if not token_accepted(credentials.credentials, resources.settings.api_tokens):
        raise Unauthorized("invalid bearer token")
    return token_fingerprint(credentials.credentials)


#: The fingerprint of the CMS token that authenticated the request.
CmsTokenDep = Annotated[str, Depends(require_cms_token)]
