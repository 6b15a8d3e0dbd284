"""The operator page at /ui: sign-in, analyses and their history, face galleries (search and
media pages: `service.api.ui_media`).

Server-rendered HTML behind the CMS tokens: an operator signs in with a token once and then
holds a signed session cookie. Every form carries the session's CSRF token; actions reuse the
API's flows, so the page can do nothing the CMS API could not.
"""

from __future__ import annotations

import inspect
import secrets
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import StringConstraints

from service.api import ui_media
from service.api.auth import token_accepted, token_fingerprint
from service.api.deps import ResourcesDep, SessionDep
from service.api.representation import result_response
from service.errors import ServiceError
from service.text import TEXT_RULE, Text
from service.ui import views
from service.ui.auth import (
    UI_PATH,
    CheckedFormDep,
    CsrfRefused,
    Operator,
    OperatorDep,
    SignInRequired,
    is_https,
    key_of,
    sign_in_target,
    sign_in_url,
    write_session,
)
from service.ui.pages import STATIC_DIR, render
from service.ui.security import UiSecurityHeaders
from service.ui.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, new_session

router = APIRouter(prefix=UI_PATH, include_in_schema=False)

MediaIdFilter = Annotated[str, StringConstraints(max_length=1024), TEXT_RULE]


def install(app: FastAPI) -> None:
    """Mount the operator page, its static files, its headers and its redirects on `app`."""
    app.include_router(router)
    app.include_router(ui_media.router)
    app.mount(f"{UI_PATH}/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.add_middleware(UiSecurityHeaders)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    api_errors = app.exception_handlers[ServiceError]

    async def page_or_problem(request: Request, exc: Exception) -> Response:
        # The CMS API answers problem+json; the operator page answers a page.
        if not request.url.path.startswith(UI_PATH + "/"):
            answer = api_errors(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        assert isinstance(exc, ServiceError)
        context = {"status": exc.status_code, "title": exc.title, "detail": exc.detail}
        return render("error.html", context, status_code=exc.status_code)

    app.add_exception_handler(ServiceError, page_or_problem)


async def _to_sign_in(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(sign_in_url(exc.next_path), status_code=303)


async def _csrf_refused(_: Request, exc: Exception) -> Response:
    return render("refused.html", {}, status_code=403)


def back(operator: Operator, url: str, message: str | None = None) -> Response:
    """Redirect after a form (303), with a one-time message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if message is not None:
        write_session(response, operator, operator.session.with_flash(message))
    return response


@router.get("")
async def home() -> Response:
    return RedirectResponse(f"{UI_PATH}/analyses", status_code=303)


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(32)
    response = render("sign_in.html", {"nonce": nonce, "next": sign_in_target(next)})
    response.set_cookie(
        SIGN_IN_COOKIE,
        nonce,
        max_age=3600,
        path=UI_PATH,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    resources: ResourcesDep,
    token: Annotated[str, Form(max_length=4096)] = "",
    nonce: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not secrets.compare_digest(nonce.encode(), expected.encode()):
        raise CsrfRefused()
    if not token_accepted(token.strip(), resources.settings.api_tokens):
        context = {
            "nonce": nonce,
            "next": sign_in_target(next),
            "error": "That token is not accepted.",
        }
        return render("sign_in.html", context, status_code=401)
    operator = Operator(
        session=new_session(token_fingerprint(token.strip())),
        key=key_of(resources),
        secure=is_https(request),
    )
    response = RedirectResponse(sign_in_target(next), status_code=303)
    write_session(response, operator, operator.session)
    response.delete_cookie(SIGN_IN_COOKIE, path=UI_PATH)
    return response


@router.post("/sign-out")
async def sign_out(_: CheckedFormDep) -> Response:
    response = RedirectResponse(f"{UI_PATH}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=UI_PATH)
    return response


@router.get("/analyses")
async def analyses_page(
    operator: OperatorDep,
    session: SessionDep,
    resources: ResourcesDep,
    status: Annotated[str, Query(max_length=32)] = "",
    customer_media_id: Annotated[MediaIdFilter | None, Query()] = None,
    overdue: bool = False,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    context = await views.analyses_page(
        session,
        resources.settings,
        status=status,
        customer_media_id=customer_media_id or None,
        overdue_only=overdue,
        cursor=cursor,
    )
    return render("analyses.html", context, operator=operator)


@router.get("/analyses/{analysis_id}")
async def analysis_page(
    analysis_id: uuid.UUID, operator: OperatorDep, session: SessionDep
) -> Response:
    context = await views.analysis_page(session, analysis_id)
    return render("analysis.html", context, operator=operator)


@router.get("/analyses/{analysis_id}/results/{result_type}")
async def download_result(
    analysis_id: uuid.UUID,
    result_type: Text,
    request: Request,
    _: OperatorDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> Response:
    body, filename = await views.stored_result(session, analysis_id, result_type)
    response = result_response(request, resources.sessionmaker, body)
    response.headers["Content-Disposition"] = attachment(filename)
    return response


def attachment(filename: str) -> str:
    """A Content-Disposition naming `filename` (letters, digits, `-_.`): HTTP headers are
    latin-1, so an ASCII fallback and the UTF-8 name (RFC 6266) that browsers prefer."""
    ascii_name = "".join(c if c.isascii() else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.post("/analyses/{analysis_id}/cancel")
async def cancel(
    analysis_id: uuid.UUID,
    operator: OperatorDep,
    _: CheckedFormDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> Response:
    page = f"{UI_PATH}/analyses/{analysis_id}"
    try:
        await views.cancel(session, resources, analysis_id)
    except ServiceError as exc:
        await session.rollback()
        return back(operator, page, f"Not canceled: {exc.detail}")
    return back(operator, page, "Canceled.")


@router.post("/analyses/{analysis_id}/reanalyse")
async def reanalyse(
    analysis_id: uuid.UUID,
    operator: OperatorDep,
    form: CheckedFormDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> Response:
    request_key = str(form.get("request_key") or "")[:64]
    try:
        new_id = await views.reanalyse(session, resources.settings, analysis_id, request_key)
    except ServiceError as exc:
        await session.rollback()
        return back(operator, f"{UI_PATH}/analyses/{analysis_id}", f"Not re-analysed: {exc.detail}")
    return back(
        operator, f"{UI_PATH}/analyses/{new_id}", "A new analysis of this media was created."
    )


@router.get("/face-galleries")
async def galleries_page(operator: OperatorDep, session: SessionDep) -> Response:
    context = await views.galleries_page(session)
    return render("galleries.html", context, operator=operator)


@router.post("/face-galleries")
async def create_gallery(
    operator: OperatorDep, form: CheckedFormDep, session: SessionDep, resources: ResourcesDep
) -> Response:
    try:
        gallery_id = await views.create_gallery(session, resources, form, operator)
    except ServiceError as exc:
        await session.rollback()
        return back(operator, f"{UI_PATH}/face-galleries", f"Not created: {exc.detail}")
    return back(operator, f"{UI_PATH}/face-galleries/{gallery_id}", "Gallery created.")


@router.get("/face-galleries/{gallery_ref}")
async def gallery_page(gallery_ref: Text, operator: OperatorDep, session: SessionDep) -> Response:
    context = await views.gallery_page(session, gallery_ref)
    return render("gallery.html", context, operator=operator)


@router.post("/face-galleries/{gallery_ref}/faces")
async def add_face(
    gallery_ref: Text,
    operator: OperatorDep,
    form: CheckedFormDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> Response:
    page = f"{UI_PATH}/face-galleries/{gallery_ref}"
    try:
        await views.add_face(session, resources, gallery_ref, form, operator)
    except ServiceError as exc:
        await session.rollback()
        return back(operator, page, f"Face not added: {exc.detail}")
    return back(operator, page, "Face added.")


@router.post("/faces/{face_id}/images")
async def add_image(
    face_id: Text,
    operator: OperatorDep,
    form: CheckedFormDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> Response:
    gallery_ref = form.get("gallery_ref")
    page = f"{UI_PATH}/face-galleries"
    if isinstance(gallery_ref, str) and gallery_ref:
        page += "/" + quote(gallery_ref, safe="")
    try:
        await views.add_image(session, resources, face_id, form, operator)
    except ServiceError as exc:
        await session.rollback()
        return back(operator, page, f"Image not added: {exc.detail}")
    return back(operator, page, "Image added.")
