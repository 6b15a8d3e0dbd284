"""The `valossa-ingest` command as operators run it: clear start-up errors, migrate, SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from service.process.serving import bind_socket
from tests.conftest import REPO_ROOT

BASE_ENV = {
    "VALOSSA_API_KEY": "cli-test-key",
    "CALLBACK_SIGNING_SECRET": "cli-test-secret",
    "INGEST_API_TOKENS": "cli-token",
    "VALOSSA_BASE_URL": "http://127.0.0.1:9",
}


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in BASE_ENV and k != "DATABASE_URL"}
    return {**env, **BASE_ENV, **overrides}


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )


def _free_port() -> int:
    sock = bind_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_serve_with_unreachable_database_fails_with_one_clear_line() -> None:
    url = "postgresql+psycopg://app:s3cr3t-pw@127.0.0.1:1/nowhere"
    result = _run("serve", env=_env(DATABASE_URL=url))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot connect to the database at 127.0.0.1:1" in lines[0]
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_serve_without_api_key_names_the_variable(migrated_database: str) -> None:
    env = _env(DATABASE_URL=migrated_database)
    del env["VALOSSA_API_KEY"]
    result = _run("serve", env=env)
    assert result.returncode == 2
    assert "VALOSSA_API_KEY" in result.stderr


def test_bad_database_url_scheme_is_reported() -> None:
    result = _run("migrate", env=_env(DATABASE_URL="mysql://u:p@h/db"))
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr


def test_migrate_brings_an_empty_database_to_head(empty_database: str) -> None:
    result = _run("migrate", env=_env(DATABASE_URL=empty_database))
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    libpq = make_url(empty_database).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False)) as conn:
        assert conn.execute("SELECT count(*) FROM analyses").fetchone() == (0,)


@pytest.fixture
def ports() -> tuple[int, int]:
    return _free_port(), _free_port()


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_sigterm_stops_serve_and_worker_gracefully(
    command: str, migrated_database: str, ports: tuple[int, int]
) -> None:
    port, _ = ports
    args = ["--port", str(port)] if command == "serve" else ["--health-port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", command, *args],
        env=_env(DATABASE_URL=migrated_database),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # uvicorn re-raises the captured SIGTERM once it has shut down, as a signalled exit.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    expected = "Application shutdown complete" if command == "serve" else "stopping"
    assert expected in stderr
    assert "Traceback" not in stderr
    assert "cli-test-key" not in stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], "analyze"),
        (["analyze", "--help"], "--id CUSTOMER_MEDIA_ID"),
        (["faces", "--help"], "add-image"),
        (["faces", "add-image", "--help"], "The face to train"),
        (["serve", "--help"], "--port"),
        (["status"], "Missing argument 'ID'"),  # a usage error, on stderr, exit 2
    ],
)
def test_help_and_usage_errors_are_plain_text_when_not_a_terminal(
    args: list[str], expected: str
) -> None:
    result = _run(*args, env=_env())
    shown = result.stdout + result.stderr
    assert result.returncode == (2 if args == ["status"] else 0), shown
    assert expected in shown
    assert not re.search("[\u2500-\u257f]", shown), shown  # no box drawing
    assert "\x1b[" not in shown  # no colour codes
    assert max(len(line) for line in shown.splitlines()) <= 100


def test_the_worker_runs_on_uvloop_when_it_is_installed() -> None:
    """uvicorn runs the API on uvloop; the worker's loop is uvloop's too (asyncio's own cost
    the worker a sixth of its CPU)."""
    import uvloop

    from service.cli import event_loop_factory

    assert event_loop_factory() is uvloop.new_event_loop
