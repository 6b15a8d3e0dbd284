"""Who is at the operator page: the signed session cookie, checked on every request, and the
CSRF token every form must carry."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from service.api.auth import token_fingerprint
from service.api.deps import ResourcesDep
from service.resources import Resources
from service.ui.sessions import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    OperatorSession,
    decode,
    encode,
    session_key,
)

#: The operator page's cookies live under this path only.
UI_PATH = "/ui"


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form arrived without this session's CSRF token."""


@dataclass(frozen=True)
class Operator:
    """A signed-in operator: the session and how to write its cookie back."""

    session: OperatorSession
    key: bytes
    secure: bool


def key_of(resources: Resources) -> bytes:
    """The session-signing key of this deployment."""
    secret = resources.settings.callback_signing_secret
    return session_key(secret.get_secret_value() if secret else "")


def is_https(request: Request) -> bool:
    """Whether the browser talks https to us (proxy headers are applied by uvicorn)."""
    return request.url.scheme == "https"


def current_operator(request: Request, resources: ResourcesDep) -> Operator:
    """The operator of a valid session whose token is still accepted, else SignInRequired."""
    key = key_of(resources)
    raw = request.cookies.get(SESSION_COOKIE)
    session = decode(raw, key) if raw else None
    accepted = {token_fingerprint(t) for t in resources.settings.api_tokens}
    if session is None or session.fingerprint not in accepted:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # A form posted after the session ended is not replayed: sign in, then look again.
        raise SignInRequired(target if request.method == "GET" else f"{UI_PATH}/analyses")
    return Operator(session=session, key=key, secure=is_https(request))


OperatorDep = Annotated[Operator, Depends(current_operator)]


async def checked_form(request: Request, operator: OperatorDep) -> FormData:
    """The posted form, once its `csrf_token` matches the session's; CsrfRefused otherwise."""
    form = await request.form()
    given = form.get("csrf_token")
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode(), operator.session.csrf.encode()
    ):
        raise CsrfRefused()
    return form


CheckedFormDep = Annotated[FormData, Depends(checked_form)]


def write_session(response: Response, operator: Operator, session: OperatorSession) -> None:
    """Set (or refresh) the session cookie: HttpOnly, SameSite=Strict, Secure over https."""
    response.set_cookie(
        SESSION_COOKIE,
        encode(session, operator.key),
        max_age=SESSION_SECONDS,
        path=UI_PATH,
        httponly=True,
        samesite="strict",
        secure=operator.secure,
    )


def sign_in_target(next_path: str | None) -> str:
    """Where to go after signing in: a page of the operator UI, never another site."""
    if next_path and next_path.startswith(UI_PATH + "/") and not next_path.startswith("//"):
        return next_path
    return f"{UI_PATH}/analyses"


def sign_in_url(next_path: str) -> str:
    """The sign-in form that leads back to `next_path`."""
    return f"{UI_PATH}/sign-in?next={quote(next_path, safe='')}"
