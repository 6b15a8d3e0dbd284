"""`valossa-ingest emulator`: run the Valossa emulator with uvicorn.

Registered on the main command at import, so this module imports nothing that needs the
[emulator] extra (PyAV): the app is imported only when the command runs.
"""

from __future__ import annotations

import copy
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn

from service.emulator.settings import EmulatorSettings
from service.process.extras import require_extra


class ListOrderOption(StrEnum):
    """The choices of --list-order."""

    NEWEST = "newest"
    OLDEST = "oldest"


if TYPE_CHECKING:
    from fastapi import FastAPI


def create_emulator_app(settings: EmulatorSettings) -> FastAPI:
    """The emulator's app, imported on use: every `valossa-ingest` command loads this module
    to register `emulator`, and the client commands should not pay for the emulator's app."""
    from service.emulator.app import create_emulator_app as create

    return create(settings)


def emulator_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    speed: Annotated[
        float | None,
        typer.Option(
            help="Clock speed, emulated seconds per wall second (VALOSSA_EMULATOR_SPEED)."
        ),
    ] = None,
    callback_drop_rate: Annotated[
        float | None,
        typer.Option(help="Share of callbacks never sent (VALOSSA_EMULATOR_CALLBACK_DROP_RATE)."),
    ] = None,
    callback_delay_s: Annotated[
        float | None,
        typer.Option(help="Seconds to wait before a callback (VALOSSA_EMULATOR_CALLBACK_DELAY_S)."),
    ] = None,
    error_rate: Annotated[
        float | None,
        typer.Option(help="Share of calls answered 500/502/503 (VALOSSA_EMULATOR_ERROR_RATE)."),
    ] = None,
    throttle_rate: Annotated[
        float | None,
        typer.Option(help="Share of calls answered 429 (VALOSSA_EMULATOR_THROTTLE_RATE)."),
    ] = None,
    lost_response_rate: Annotated[
        float | None,
        typer.Option(
            help="Share of calls that take effect but whose answer is lost "
            "(VALOSSA_EMULATOR_LOST_RESPONSE_RATE)."
        ),
    ] = None,
    latency_ms: Annotated[
        float | None,
        typer.Option(help="Added latency per call in ms (VALOSSA_EMULATOR_LATENCY_MS)."),
    ] = None,
    job_failure_rate: Annotated[
        float | None,
        typer.Option(help="Share of jobs ending in error (VALOSSA_EMULATOR_JOB_FAILURE_RATE)."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed for ids and fault rolls (VALOSSA_EMULATOR_SEED)."),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(help="Upload chunk size in bytes (VALOSSA_EMULATOR_CHUNK_SIZE)."),
    ] = None,
    max_running_jobs_per_key: Annotated[
        int | None,
        typer.Option(
            help="Jobs analysing at once per key; the rest wait on_hold, 0: no limit "
            "(VALOSSA_EMULATOR_MAX_RUNNING_JOBS_PER_KEY)."
        ),
    ] = None,
    list_order: Annotated[
        ListOrderOption | None,
        typer.Option(help="list_jobs order, newest or oldest (VALOSSA_EMULATOR_LIST_ORDER)."),
    ] = None,
    undocumented_fields: Annotated[
        bool | None,
        typer.Option(
            "--undocumented-fields/--no-undocumented-fields",
            help="Show fields the docs do not in list_jobs and job_status "
            "(VALOSSA_EMULATOR_UNDOCUMENTED_FIELDS).",
        ),
    ] = None,
    cancel_status: Annotated[
        str | None,
        typer.Option(help="Status of a job after cancel_job (VALOSSA_EMULATOR_CANCEL_STATUS)."),
    ] = None,
    cancel_final_status: Annotated[
        str | None,
        typer.Option(
            help="Status a canceled job settles in later (VALOSSA_EMULATOR_CANCEL_FINAL_STATUS)."
        ),
    ] = None,
    cancel_refusal_code: Annotated[
        int | None,
        typer.Option(
            help="HTTP status of a refused cancel (VALOSSA_EMULATOR_CANCEL_REFUSAL_CODE)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Directory of the emulator's state, uploads, media and results; it resumes "
            "from it after a restart (default: a temp dir, forgotten at exit)."
        ),
    ] = None,
    s3_root: Annotated[
        Path | None,
        typer.Option(help="Local directory standing in for S3; s3:// is refused without it."),
    ] = None,
) -> None:
    """Run the local Valossa emulator (Core + Training API)."""
    require_extra("emulator", command="emulator")
    from service.emulator.app import create_emulator_app

    overrides: dict[str, Any] = {
        "speed": speed,
        "callback_drop_rate": callback_drop_rate,
        "callback_delay_s": callback_delay_s,
        "error_rate": error_rate,
        "throttle_rate": throttle_rate,
        "lost_response_rate": lost_response_rate,
        "latency_ms": latency_ms,
        "job_failure_rate": job_failure_rate,
        "seed": seed,
        "chunk_size": chunk_size,
        "max_running_jobs_per_key": max_running_jobs_per_key,
        "list_order": list_order.value if list_order is not None else None,
        "undocumented_fields": undocumented_fields,
        "cancel_status": cancel_status,
        "cancel_final_status": cancel_final_status,
        "cancel_refusal_code": cancel_refusal_code,
        "data_dir": data_dir,
        "s3_root": s3_root,
    }
    settings = EmulatorSettings(**{k: v for k, v in overrides.items() if v is not None})
    from service.process.serving import PortUnavailable, bind_socket

    try:
        bind_socket(host, port).close()  # a taken port in one line, not uvicorn's three
    except PortUnavailable as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    uvicorn.run(
        create_emulator_app(settings),
        host=host,
        port=port,
        log_level="info",
        log_config=redacting_log_config(),
    )


def redacting_log_config() -> dict[str, Any]:
    """uvicorn's logging set-up, with the api_key masked in every line (the access log prints
    request URLs, and Valossa's GET calls carry `?api_key=` in theirs)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_api_key"] = {
        "()": "service.valossa.redact.ApiKeyRedactingFilter"
    }
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_api_key")
    return config
