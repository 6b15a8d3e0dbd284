"""CMS authentication: `Authorization: Bearer <token>`, one of INGEST_API_TOKENS.

Checked by an ASGI middleware for every path under `/v1/`, before anything of the request is
read (FastAPI parses a body before it runs dependencies, so a dependency alone would let
anyone make us parse one). The OpenAPI document declares the scheme on those operations
(api/openapi.py). Routes that record who asked take the token's fingerprint with
`CmsTokenDep`, which checks the token again. Not a router-wide dependency: solving it cost
every request ~50 µs of CPU, a sixth of a `GET /v1/media/{id}`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.deps import ResourcesDep
from service.api.problems import problem
from service.errors import Unauthorized

#: Every route under this prefix is for CMS clients only.
CMS_PREFIX = "/v1/"

#: The scheme's name in the OpenAPI document (FastAPI's name for an HTTPBearer dependency).
CMS_SCHEME = "HTTPBearer"
CMS_DESCRIPTION = "One of the tokens in INGEST_API_TOKENS, as `Authorization: Bearer <token>`."
CMS_SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": CMS_DESCRIPTION}

_bearer = HTTPBearer(auto_error=False, description=CMS_DESCRIPTION)


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


_HTTP_WHITESPACE = " \t"


def check_authorization(header: str | None, accepted: list[str]) -> None:
    """Raise Unauthorized unless an Authorization header carries an accepted bearer token."""
    # HTTP's whitespace only (str.strip() would also take a no-break space off the token).
    scheme, _, token = (header or "").strip(_HTTP_WHITESPACE).partition(" ")
    token = token.strip(_HTTP_WHITESPACE)
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
    if not token_accepted(token, accepted):
        raise Unauthorized("invalid bearer token")


async def require_cms_token(
    resources: ResourcesDep,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    """Reject the request with 401 unless it carries an accepted bearer token; its fingerprint."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    check_authorization(header, resources.settings.api_tokens)
    assert credentials is not None
    return token_fingerprint(credentials.credentials)


#: The fingerprint of the CMS token that authenticated the request.
CmsTokenDep = Annotated[str, Depends(require_cms_token)]


class CmsAuthentication:
    """Answer 401 to a `/v1/` request without an accepted token, before its body is read."""

    def __init__(self, app: ASGIApp, *, tokens: list[str]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CMS_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = [v for n, v in scope.get("headers") or [] if n == b"authorization"]
        try:
            if len(headers) > 1:
                # Which one counts would depend on the proxies in between: none does.
                raise Unauthorized("more than one Authorization header")
            check_authorization(headers[0].decode("latin-1") if headers else None, self.tokens)
        except Unauthorized as exc:
            response = problem(401, exc.title, exc.detail, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
