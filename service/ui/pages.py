"""Rendering of the operator page's templates (Jinja2, autoescaped) and its static files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.ui.auth import Operator, write_session
from service.ui.media_page import media_url
from service.ui.strips import GEOMETRY, clock

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _size(size_bytes: int | None) -> str:
    if size_bytes is None:
        return "—"
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


_environment.filters["when"] = _when
_environment.filters["size"] = _size
_environment.filters["clock"] = clock
_environment.filters["media_url"] = media_url
_environment.globals["strip_geometry"] = GEOMETRY


def render(
    template: str,
    context: dict[str, Any],
    *,
    operator: Operator | None = None,
    status_code: int = 200,
) -> Response:
    """A page; a signed-in operator's one-time message is shown once, then cleared."""
    flash = operator.session.flash if operator is not None else None
    html = _environment.get_template(template).render(
        **context,
        operator=operator.session if operator is not None else None,
        csrf_token=operator.session.csrf if operator is not None else None,
        flash=flash,
    )
    response = HTMLResponse(html, status_code=status_code)
    if operator is not None and flash is not None:
        write_session(response, operator, operator.session.with_flash(None))
    return response
