"""Start-up mistakes end in one line and exit code 2, never a traceback or a password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.process.serving import bind_socket
from tests.conftest import REPO_ROOT
from tests.edge.live_service import SERVE_ENV

PASSWORD = "s3cr3t-pa55word"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        env={**environment, **SERVE_ENV, **env},
        cwd=REPO_ROOT,
        timeout=60,
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{PASSWORD}@db.example:notaport/app",
        f"postgresql://app@db.example:{PASSWORD}/app",
        f"postgresql+psycopg://app:{PASSWORD}@[db.example/app",
        f"mysql://app:{PASSWORD}@db.example/app",
        f"not a url {PASSWORD}",
    ],
)
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_malformed_database_url_is_named_but_never_printed(command: str, url: str) -> None:
    result = _run(command, DATABASE_URL=url)
    line = _one_line_error(result)
    # Refused as a setting, or (a URL libpq alone rejects) at the connection check.
    assert "DATABASE_URL" in line or "cannot connect to the database" in line
    assert PASSWORD not in result.stderr + result.stdout


def test_another_bad_setting_is_named_without_its_value() -> None:
    result = _run("serve", DATABASE_URL="postgresql://u@h/db", HTTP_HEADER_TIMEOUT_S="soon")
    line = _one_line_error(result)
    assert "HTTP_HEADER_TIMEOUT_S" in line
    assert "soon" not in line


@pytest.mark.parametrize(
    ("command", "name", "value"),
    [
        ("serve", "LOG_LEVEL", "verbose"),
        ("worker", "LOG_LEVEL", "5"),
        ("serve", "TICK_INTERVAL_S", "1e999"),  # inf: a scheduler that never ticks
        ("worker", "VALOSSA_TIMEOUT_S", "nan"),
        ("worker", "VALOSSA_BASE_URL", "api.valossa.com"),
        ("serve", "PUBLIC_BASE_URL", "ftp://ingest.example"),
        ("serve", "PUBLIC_BASE_URL", "https://ingest.example:99999"),
        ("serve", "FORWARDED_ALLOW_IPS", "10.0.0.0/8, proxy.example"),
    ],
)
def test_a_setting_with_an_invalid_value_is_named_in_one_line(
    command: str, name: str, value: str
) -> None:
    result = _run(command, DATABASE_URL="postgresql://u@h/db", **{name: value})
    assert name in _one_line_error(result)


def test_a_log_level_in_any_case_is_accepted() -> None:
    # Checked up to the database, which is not there: the settings themselves were accepted.
    result = _run("serve", DATABASE_URL="postgresql://u@127.0.0.1:1/db", LOG_LEVEL="debug")
    assert "cannot connect to the database" in _one_line_error(result)


def test_serve_on_a_busy_port_says_so_in_one_line(migrated_database: str) -> None:
    taken = bind_socket()
    port = taken.getsockname()[1]
    try:
        result = _run("serve", "--port", str(port), DATABASE_URL=migrated_database)
    finally:
        taken.close()
    assert _one_line_error(result) == f"error: port {port} on 127.0.0.1 is already in use"


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "-1"],
        ["worker", "--health-port", "70000"],
        ["emulator", "--port", "65536"],
        ["dev", "--emulator-port", "0"],
    ],
)
def test_a_port_out_of_range_is_a_usage_error(args: list[str]) -> None:
    result = _run(*args, DATABASE_URL="postgresql://u@h/db")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Invalid value for '--" in result.stderr


def test_the_emulator_on_a_busy_port_says_so_in_one_line() -> None:
    taken = bind_socket()
    port = taken.getsockname()[1]
    try:
        result = _run("emulator", "--port", str(port))
    finally:
        taken.close()
    assert _one_line_error(result) == f"error: port {port} on 127.0.0.1 is already in use"


def test_dev_with_an_unusable_data_dir_says_so_in_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = _run("dev", "--data-dir", str(a_file / "data"))
    assert (
        _one_line_error(result)
        == f"error: cannot use --data-dir {a_file / 'data'}: Not a directory"
    )


def test_worker_on_a_busy_health_port_says_so_in_one_line(migrated_database: str) -> None:
    taken = bind_socket()
    port = taken.getsockname()[1]
    try:
        result = _run("worker", "--health-port", str(port), DATABASE_URL=migrated_database)
    finally:
        taken.close()
    assert _one_line_error(result) == f"error: port {port} on 127.0.0.1 is already in use"
