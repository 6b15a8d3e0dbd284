"""`valossa-ingest dev`: embedded Postgres, the emulator, the API and the worker in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from pathlib import Path

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.emulator.settings import EmulatorSettings
from service.logs import configure_logging
from service.migrate import upgrade_to_head_async
from service.process.embedded_db import EmbeddedPostgres, default_data_dir
from service.process.serving import serve_in_background
from service.settings import load_settings

log = logging.getLogger(__name__)

DEV_TOKEN = "dev-token"
DEV_VALOSSA_KEY = "dev-valossa-key"
SAMPLE_NAME = "sample.mp4"


def _persistent_secret(path: Path) -> str:
    """A signing secret kept beside the dev database, so callback URLs survive restarts."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def dev_emulator_settings(root: Path) -> EmulatorSettings:
    """The emulator of dev mode keeps its state beside the dev database, so that a restarted
    `make run` finds the Valossa jobs its analyses wait for."""
    return EmulatorSettings(api_keys=SecretStr(DEV_VALOSSA_KEY), data_dir=root / "emulator")


async def run_dev(*, api_port: int, emulator_port: int, data_dir: Path | None) -> None:
    """Start everything, print a ready-to-paste curl, and stop cleanly on Ctrl-C."""
    from service.emulator.app import create_emulator_app
    from service.emulator.media import write_sample_video
    from service.main import create_app

    root = data_dir or default_data_dir().parent
    pgdata = root / default_data_dir().name
    media_dir = root / "media"
    media_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    print(f"starting embedded Postgres in {pgdata} ...", flush=True)
    database = await asyncio.to_thread(EmbeddedPostgres, pgdata, cleanup=False)
    try:
        database_url = await asyncio.to_thread(database.ensure_database)
        await upgrade_to_head_async(database_url)
        sample = media_dir / SAMPLE_NAME
        if not sample.exists():
            await asyncio.to_thread(write_sample_video, sample, duration_s=8.0)

        emulator_settings = dev_emulator_settings(root)
        settings = load_settings(
            database_url=database_url,
            valossa_base_url=f"http://127.0.0.1:{emulator_port}",
            valossa_api_key=DEV_VALOSSA_KEY,
            public_base_url=f"http://127.0.0.1:{api_port}",
            ingest_api_tokens=DEV_TOKEN,
            callback_signing_secret=_persistent_secret(root / "signing-secret"),
            run_worker_in_api=True,
            tick_interval_s=1.0,
            poll_min_interval_s=1.0,
            poll_max_interval_s=10.0,
        )
        configure_logging(settings)
        media_app = Starlette(routes=[Mount("/", app=StaticFiles(directory=media_dir))])
        async with contextlib.AsyncExitStack() as stack:
            emulator = await stack.enter_async_context(
                serve_in_background(create_emulator_app(emulator_settings), port=emulator_port)
            )
            media = await stack.enter_async_context(serve_in_background(media_app))
            api = await stack.enter_async_context(
                serve_in_background(create_app(settings), port=api_port, log_level="info")
            )
            _print_welcome(api.url, emulator.url, f"{media.url}/{SAMPLE_NAME}", database_url)
            await stop.wait()
            print("\nshutting down ...", flush=True)
    finally:
        await asyncio.to_thread(database.stop)


def _print_welcome(api: str, emulator: str, sample_url: str, database_url: str) -> None:
    print(
        f"""
valossa-ingest is running (dev mode: embedded Postgres, Valossa emulator, API and worker)

  API              {api}          (docs: {api}/docs, ready: {api}/readyz)
  operator page    {api}/ui       (sign in with the CMS token)
  Valossa emulator {emulator}     (admin: {emulator}/_emulator/jobs)
  sample video     {sample_url}
  database         {database_url}
  CMS token        {DEV_TOKEN}

Submit the sample video for analysis:

  curl -s -X POST {api}/v1/analyses \\
    -H 'Authorization: Bearer {DEV_TOKEN}' -H 'Content-Type: application/json' \\
    -d '{{"customer_media_id": "sample-1", "video_url": "{sample_url}", "title": "Sample clip"}}'

Then, a few seconds later:

  curl -s {api}/v1/media/sample-1 -H 'Authorization: Bearer {DEV_TOKEN}'
  curl -s '{api}/v1/media/sample-1/metadata?type=core' -H 'Authorization: Bearer {DEV_TOKEN}'

Press Ctrl-C to stop.
""",
        flush=True,
    )
