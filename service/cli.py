"""The `valossa-ingest` command: serve, worker, migrate, emulator, dev, openapi."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from service.logs import configure_logging
from service.process.extras import require_extra
from service.process.startup import DatabaseUnreachable, check_database
from service.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Analyse CMS media with Valossa and keep the metadata in Postgres.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _production_settings(*required: str) -> Settings:
    """Settings for a long-running command, checked before anything starts."""
    try:
        settings = load_settings()
        settings.require("database_url", *required)
        asyncio.run(check_database(settings))
    except (SettingsError, DatabaseUnreachable, ValueError) as exc:
        raise _fail(str(exc)) from None
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8080,
) -> None:
    """Run the HTTP API (CMS API, Valossa callbacks, health)."""
    settings = _production_settings("valossa_api_key", "callback_signing_secret")
    configure_logging(settings)
    from service.main import create_app

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
        log_config=None,
    )


@app.command()
def worker(
    health_port: Annotated[
        int, typer.Option(help="Port of the worker's /healthz and /readyz (0 disables them).")
    ] = 8081,
) -> None:
    """Run the scheduler that submits, reconciles and finishes analyses."""
    settings = _production_settings("valossa_api_key", "callback_signing_secret")
    configure_logging(settings)
    from service.worker import run_worker

    asyncio.run(run_worker(settings, health_port=health_port))


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest migration (alembic upgrade head)."""
    settings = _production_settings()
    configure_logging(settings)
    from service.migrate import upgrade_to_head

    assert settings.database_url is not None
    upgrade_to_head(settings.database_url.get_secret_value())
    typer.echo("database schema is up to date")


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8080,
    emulator_port: Annotated[int, typer.Option(help="Port of the Valossa emulator.")] = 8100,
    data_dir: Annotated[Path | None, typer.Option(help="Embedded Postgres data directory.")] = None,
) -> None:
    """Everything at once: embedded Postgres, the emulator, the API and the worker."""
    require_extra("dev", command="dev")
    from service.process.devmode import run_dev

    asyncio.run(run_dev(api_port=port, emulator_port=emulator_port, data_dir=data_dir))


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the spec ('-' for stdout).")] = Path(
        "openapi/service.json"
    ),
) -> None:
    """Export the OpenAPI spec of our HTTP API."""
    from service.main import create_app

    spec = create_app(Settings()).openapi()
    text = json.dumps(spec, indent=2, sort_keys=False) + "\n"
    if str(output) == "-":
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}")


def _register_emulator() -> None:
    from service.emulator.cli import emulator_command

    app.command("emulator", help="Run the local Valossa emulator.")(emulator_command)


_register_emulator()


if __name__ == "__main__":
    app()
