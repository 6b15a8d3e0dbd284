"""`valossa-ingest emulator`: run the Valossa emulator with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn

from service.emulator.settings import EmulatorSettings

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_emulator_app(settings: EmulatorSettings) -> FastAPI:
    """The emulator's app, imported on use: every `valossa-ingest` command loads this module
    to register `emulator`, and the client commands should not pay for the emulator's app."""
    from service.emulator.app import create_emulator_app as create

    return create(settings)


def emulator_command(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
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
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Directory for uploads, media and results (default: a temp dir)."),
    ] = None,
    s3_root: Annotated[
        Path | None,
        typer.Option(help="Local directory standing in for S3; s3:// is refused without it."),
    ] = None,
) -> None:
    """Run the local Valossa emulator (Core + Training API). State is in memory."""
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
        "data_dir": data_dir,
        "s3_root": s3_root,
    }
    settings = EmulatorSettings(**{k: v for k, v in overrides.items() if v is not None})
    uvicorn.run(create_emulator_app(settings), host=host, port=port, log_level="info")
