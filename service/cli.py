"""The `valossa-ingest` command: serve, worker, migrate, reindex, analyze, status, get, search,
faces, emulator, dev, openapi, webhook-secret."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console

from service.process.extras import require_extra

if TYPE_CHECKING:
    from service.settings import Settings

T = TypeVar("T")

#: Rich help and usage errors (boxes, colours) on a terminal; plain text when piped or captured
#: (a pager, a CI log, `--help > file`), where box drawing is noise and lines break mid-sentence.
HELP_MARKUP: Literal["rich"] | None = (
    "rich" if sys.stdout.isatty() and sys.stderr.isatty() else None
)

app = typer.Typer(
    help="Analyse CMS media with Valossa and keep the metadata in Postgres.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=HELP_MARKUP,
)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _production_settings(*required: str) -> Settings:
    """Settings for a long-running command, checked before anything starts."""
    # Imported here (as in every server command below): the client commands (analyze,
    # status, get, search, faces) start fast without the database and web stacks.
    from service.process.startup import DatabaseUnreachable, check_database
    from service.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        settings.require("database_url", *required)
        asyncio.run(check_database(settings))
    except (SettingsError, DatabaseUnreachable) as exc:
        raise _fail(str(exc)) from None
    return settings


def _configure_logging(settings: Settings) -> None:
    from service.logs import configure_logging

    configure_logging(settings)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8080,
) -> None:
    """Run the HTTP API (CMS API, Valossa callbacks, health)."""
    from service.main import create_app
    from service.process.serving import PortUnavailable, bind_socket, serve_forever, server_config

    settings = _production_settings("valossa_api_key", "callback_signing_secret")
    try:
        sock = bind_socket(host, port)
    except PortUnavailable as exc:
        raise _fail(str(exc)) from None
    _configure_logging(settings)

    config = server_config(
        create_app(settings),
        header_timeout_s=settings.http_header_timeout_s,
        max_header_bytes=settings.http_max_header_bytes,
        keepalive_timeout_s=settings.http_keepalive_timeout_s,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    serve_forever(config, sock)


@app.command()
def worker(
    health_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Port of the worker's /healthz and /readyz (0 disables them)."
        ),
    ] = 8081,
    health_host: Annotated[
        str, typer.Option(help="Interface of the health port (0.0.0.0 in a container).")
    ] = "127.0.0.1",
) -> None:
    """Run the scheduler that submits, reconciles and finishes analyses."""
    from service.process.serving import PortUnavailable, bind_socket

    settings = _production_settings("valossa_api_key", "callback_signing_secret")
    if health_port:
        try:
            bind_socket(health_host, health_port).close()  # fail now, in one line, if taken
        except PortUnavailable as exc:
            raise _fail(str(exc)) from None
    _configure_logging(settings)
    from service.worker import run_worker

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(run_worker(settings, health_port=health_port, health_host=health_host))
    except PortUnavailable as exc:  # taken in the meantime
        raise _fail(str(exc)) from None


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (uvicorn[standard] brings it, and uvicorn runs
    the API on it), else asyncio's own. The worker's loop was a sixth of its CPU (selectors,
    asyncio's Python callbacks) on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest migration (alembic upgrade head)."""
    settings = _production_settings()
    _configure_logging(settings)
    from service.migrate import upgrade_to_head

    assert settings.database_url is not None
    upgrade_to_head(settings.database_url.get_secret_value())
    typer.echo("database schema is up to date")


@app.command()
def reindex(
    media: Annotated[
        str | None, typer.Option("--media", help="Only this customer_media_id.")
    ] = None,
) -> None:
    """Rebuild the search index from the stored results (every media, or one), with progress.

    Exit code 1 if some media failed (each is named), 2 if --media has no finished analysis.
    """
    settings = _production_settings()
    _configure_logging(settings)
    from service.search.reindex import run_reindex

    code = asyncio.run(run_reindex(settings, media=media, echo=typer.echo))
    raise typer.Exit(code)


@app.command()
def analyze(
    source: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_URL",
            help="A local video file (uploaded through the service) or an http(s)/s3 URL "
            "that Valossa downloads itself.",
        ),
    ],
    media_id: Annotated[
        str, typer.Option("--id", metavar="CUSTOMER_MEDIA_ID", help="Your CMS's id of the media.")
    ],
    title: Annotated[str | None, typer.Option(help="A title for the media.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the analysis to its end, with a status line.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Wait, then write every stored result to DIR/<type>.<ext>."
        ),
    ] = None,
    parallel: Annotated[
        int, typer.Option(min=1, max=16, help="Chunks uploaded at once (local files).")
    ] = 4,
) -> None:
    """Analyse a media through a running service (VALOSSA_INGEST_URL, VALOSSA_INGEST_TOKEN).

    A local file is uploaded in parallel chunks with a progress bar; an interrupted upload
    resumes when the same command runs again. Prints the analysis id. Exit codes: 0 done,
    1 the analysis failed or was canceled (--wait), 2 usage (file unreadable), 3 service
    unreachable, 4 token refused, 5 request refused, 6 service failed.
    """
    from service.analyses.remote_commands import analyze as run_analyze

    code = _run_remote(
        run_analyze(
            Console(stderr=True),
            source,
            media_id=media_id,
            title=title,
            wait=wait,
            out=out,
            parallel=parallel,
        )
    )
    raise typer.Exit(code=int(code))


@app.command()
def status(
    identifier: Annotated[
        str, typer.Argument(metavar="ID", help="An analysis id, or a customer_media_id.")
    ],
) -> None:
    """Where an analysis is (or the latest analysis of a media); prints its status."""
    from service.analyses.remote_commands import status as run_status

    raise typer.Exit(code=int(_run_remote(run_status(Console(stderr=True), identifier))))


@app.command()
def get(
    identifier: Annotated[
        str,
        typer.Argument(
            metavar="ID", help="A customer_media_id, or the id of its current analysis."
        ),
    ],
    result_type: Annotated[
        str, typer.Option("--type", help="core, speech_to_text_srt, ... (Valossa's names).")
    ] = "core",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Default: stdout.")
    ] = None,
) -> None:
    """Write one stored result of a media, byte-identical to what Valossa sent."""
    from service.analyses.remote_results import get as run_get

    target = None if output is None or str(output) == "-" else output
    code = _run_remote(run_get(Console(stderr=True), identifier, result_type, target))
    raise typer.Exit(code=int(code))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find in labels, face names and speech.")],
    type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only detection types with this prefix (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Media to list.")] = 20,
) -> None:
    """Search the media of a running service (VALOSSA_INGEST_URL, VALOSSA_INGEST_TOKEN)."""
    from service.remote import RemoteError
    from service.search.terminal import fetch_search, print_results

    try:
        page = asyncio.run(fetch_search(query, types=type or [], limit=limit))
    except RemoteError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(exc.exit_code) from None
    print_results(page, query)


@app.command("webhook-secret")
def webhook_secret() -> None:
    """Print a new CMS_WEBHOOK_SECRET (`whsec_` + base64 of 32 random bytes).

    To rotate: give the CMS the new secret, set CMS_WEBHOOK_SECRET="<new>,<old>" (every
    delivery is then signed with both), and drop the old one once the CMS verifies with the new.
    """
    from service.webhooks.signing import new_secret

    typer.echo(new_secret())


@app.command()
def dev(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API.")] = 8080,
    emulator_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the Valossa emulator.")
    ] = 8100,
    data_dir: Annotated[Path | None, typer.Option(help="Embedded Postgres data directory.")] = None,
) -> None:
    """Everything at once: embedded Postgres, the emulator, the API and the worker."""
    require_extra("dev", command="dev")
    from service.process.devmode import run_dev
    from service.process.serving import PortUnavailable

    if data_dir is not None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(f"cannot use --data-dir {data_dir}: {exc.strerror or exc}") from None

    try:
        asyncio.run(run_dev(api_port=port, emulator_port=emulator_port, data_dir=data_dir))
    except PortUnavailable as exc:
        raise _fail(str(exc)) from None


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the spec ('-' for stdout).")] = Path(
        "openapi/service.json"
    ),
) -> None:
    """Export the OpenAPI spec of our HTTP API."""
    from service.main import create_app
    from service.settings import Settings

    spec = create_app(Settings()).openapi()
    text = json.dumps(spec, indent=2, sort_keys=False) + "\n"
    if str(output) == "-":
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}")


faces_app = typer.Typer(
    help="Face galleries: list them, add training images, reconcile the mirror with Valossa.",
    no_args_is_help=True,
    rich_markup_mode=HELP_MARKUP,
)
app.add_typer(faces_app, name="faces")


@faces_app.command("sync")
def faces_sync(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; change nothing.")
    ] = False,
) -> None:
    """Make our mirror of galleries, faces and images match Valossa (operator command:
    needs DATABASE_URL and VALOSSA_API_KEY)."""
    settings = _production_settings("valossa_api_key")
    _configure_logging(settings)
    from service.faces.reconcile import Changes
    from service.faces.sync import sync_faces
    from service.resources import open_resources

    async def run() -> Changes:
        async with open_resources(settings) as resources:
            return await sync_faces(resources.sessionmaker, resources.valossa, dry_run=dry_run)

    changes = asyncio.run(run())
    for line in changes.lines:
        typer.echo(("would change: " if dry_run else "") + line)
    summary = f"{changes.galleries} galleries, {changes.faces} faces, {changes.images} images"
    if not changes.lines:
        typer.echo(f"the mirror already matches Valossa: {summary}")
    else:
        verb = "would make" if dry_run else "made"
        typer.echo(f"{verb} {len(changes.lines)} change(s); Valossa has {summary}")


@faces_app.command("list")
def faces_list() -> None:
    """Print the face galleries and their faces (VALOSSA_INGEST_URL, VALOSSA_INGEST_TOKEN)."""
    from service.faces.remote_commands import list_faces

    _run_remote(list_faces(Console()))


@faces_app.command("add-image")
def faces_add_image(
    face_id: Annotated[str, typer.Argument(help="The face to train (an id from `faces list`).")],
    images: Annotated[
        list[Path], typer.Argument(help="JPG or PNG files, each showing only this face.")
    ],
) -> None:
    """Upload training images to a face through the service, with progress; exit code 5 if
    any image was refused, 2 if a file could not be read or is not a valid image."""
    from service.faces.remote_commands import add_images

    code = _run_remote(add_images(Console(), face_id, images))
    raise typer.Exit(code=int(code))


def _run_remote(command: Coroutine[Any, Any, T]) -> T:
    from service.remote import RemoteError

    try:
        return asyncio.run(command)
    except RemoteError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=int(exc.exit_code)) from None
    except KeyboardInterrupt:
        # An upload under way resumes where it was when the same command runs again.
        typer.secho("interrupted (run the same command again to resume)", err=True)
        raise typer.Exit(code=130) from None


def _register_emulator() -> None:
    from service.emulator.cli import emulator_command

    app.command("emulator", help="Run the local Valossa emulator.")(emulator_command)


_register_emulator()


if __name__ == "__main__":
    app()
