"""Our commands as real processes, for tests that kill them (a crash is a SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from service.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The process environment that gives a command these settings (secrets included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VALOSSA_", "DATABASE_"))}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    env.update(overrides)
    return env


@contextlib.contextmanager
def running_command(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """Run `valossa-ingest <args>` for the block; it is SIGKILLed at the end if still alive."""
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
