"""schemathesis against the live API: every operation, every check, no server error.

The API runs in this process (its log is captured) with the emulator as Valossa; schemathesis
runs as its own command, a bounded number of cases per operation and a fixed seed, so that a
failure can be replayed (`st replay` with the id it prints). The only allowance is in
schemathesis_hooks.py: the two rules a schema cannot say.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from service.main import create_app
from service.process.serving import serve_in_background, server_config
from service.settings import Settings
from tests.conftest import REPO_ROOT
from tests.support.emulator import EMULATOR_KEY, running_emulator

EXAMPLES_PER_OPERATION = 15
SEED = 20261125


async def test_schemathesis_finds_no_failure(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert schemathesis is not None, "schemathesis is a dev dependency: run `make install`"
    async with running_emulator(tmp_path / "emulator", speed=0.001) as emulator:
        api_settings = settings.model_copy(
            update={
                "valossa_base_url": emulator.url,
                "valossa_api_key": SecretStr(EMULATOR_KEY),
                # Generated source URLs name random hosts: no DNS look-ups in a test.
                "allow_private_source_urls": True,
            }
        )
        app = create_app(api_settings)
        config = server_config(app, access_log=False, log_level="warning")
        async with serve_in_background(app, config=config) as server:
            process = await asyncio.create_subprocess_exec(
                schemathesis,
                "run",
                f"{server.url}/openapi.json",
                "--checks=all",
                f"--max-examples={EXAMPLES_PER_OPERATION}",
                f"--seed={SEED}",
                "--workers=1",
                "--header=Authorization: Bearer test-token",
                "--request-timeout=30",
                cwd=tmp_path,
                env={
                    **os.environ,
                    "PYTHONPATH": str(REPO_ROOT),
                    "SCHEMATHESIS_HOOKS": "tests.edge.schemathesis_hooks",
                    "NO_COLOR": "1",
                },
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    operations = sum(len(methods) for methods in app.openapi()["paths"].values())
    assert f"Tested: {operations}" in report, report[-3000:]
    server_errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert server_errors == [], [r.getMessage() for r in server_errors]
