"""Logs keep secrets out and cannot be forged by the values clients send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx

from service.analyses.tokens import CallbackTokens
from service.logs import ConsoleFormatter, JsonFormatter, RedactSecrets
from tests.conftest import REPO_ROOT
from tests.edge.live_service import AUTH, SERVE_ENV, LiveService, free_port
from tests.support.waiting import eventually

FORGED = "x\r\n2026-01-01T00:00:00 ERROR service.fake: forged line\r\n"


async def test_access_log_masks_callback_tokens(live: LiveService) -> None:
    token = CallbackTokens(SERVE_ENV["CALLBACK_SIGNING_SECRET"]).token_for(uuid.uuid4())
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.post(f"/callbacks/valossa/{token}", json={"status": "finished"})
    # An unknown analysis with a genuine token: the token was accepted, the analysis is not ours.
    assert response.status_code == 404
    await eventually(
        lambda: any("/callbacks/valossa/***" in line for line in live.log_lines()),
        within=10,
        what="an access log line for the callback",
    )
    log = "\n".join(live.log_lines())
    assert token not in log
    assert token.split(".")[1] not in log


async def test_a_customer_media_id_cannot_forge_a_json_log_line(live: LiveService) -> None:
    async with httpx.AsyncClient(base_url=live.url, headers=AUTH) as client:
        created = await client.post(
            "/v1/analyses",
            json={"customer_media_id": FORGED, "video_url": "https://cdn.example/v.mp4"},
        )
        assert created.status_code == 202, created.text
        erased = await client.delete(f"/v1/media/{quote(FORGED, safe='')}")
        # Nothing reached Valossa for it: erased here alone, and logged with the id.
        assert erased.status_code == 204

    def logged() -> bool:
        return any("forged line" in line for line in live.log_lines())

    await eventually(logged, within=10, what="the request in the access log")
    for line in live.log_lines():
        record = json.loads(line)  # every line is one whole record
        assert not record["message"].startswith("forged")
    assert not any(line.startswith("2026-01-01") for line in live.log_lines())


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad id {FORGED}")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("service.test", logging.INFO, __file__, 1, message, args, exc_info)


def test_console_lines_escape_control_characters_and_indent_tracebacks() -> None:
    text = ConsoleFormatter().format(_record("media %s deleted", FORGED, exc=True))
    lines = text.splitlines()
    assert "\\r\\n" in lines[0]
    assert "forged line" in lines[0]
    # Continuation lines (the traceback) are indented: none can pass for a record of its own.
    assert all(line.startswith("    ") for line in lines[1:])
    assert len(lines) > 1


def test_json_lines_are_one_object_each_with_the_exception() -> None:
    text = JsonFormatter().format(_record("media %s deleted", FORGED, exc=True))
    assert "\n" not in text
    record = json.loads(text)
    assert record["message"] == f"media {FORGED} deleted"
    assert "ValueError" in record["exception"]
    assert record["level"] == "INFO"


def test_redaction_covers_tracebacks_and_access_fields() -> None:
    redact = RedactSecrets(["super-secret-token"])
    failing = _record("calling with %s", "super-secret-token", exc=True)
    failing.exc_text = "Traceback ...\nRuntimeError: token super-secret-token refused"
    redact.filter(failing)
    assert "super-secret-token" not in JsonFormatter().format(failing)
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/callbacks/valossa/abc.def", "1.1", 200),
        None,
    )
    redact.filter(access)
    assert json.loads(JsonFormatter().format(access))["http"]["path"] == ("/callbacks/valossa/***")


async def test_the_emulator_access_log_masks_the_api_key(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "emulator.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "service.cli", "emulator", "--port", str(port)),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "VALOSSA_EMULATOR_API_KEYS": "emulator-secret-key"},
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:

            async def answered() -> bool:
                try:
                    params = {"api_key": "emulator-secret-key", "job_id": "nope"}
                    await client.get("/core/1.0/job_status", params=params)
                except httpx.TransportError:
                    return False
                return True

            await eventually(answered, within=30, what="the emulator answering")
            await eventually(lambda: "job_status" in log_path.read_text(), within=10)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have stopped on its own
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
    log = log_path.read_text()
    assert "job_status?api_key=**********" in log, log
    assert "emulator-secret-key" not in log
