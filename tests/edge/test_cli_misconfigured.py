"""The client commands given a malformed VALOSSA_INGEST_URL or a token no header can carry:
one line naming the variable, exit code 2 (usage), never a traceback or the token itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.remote import ExitCode
from tests.conftest import REPO_ROOT

COMMANDS = {
    "status": ["status", "media-1"],
    "get": ["get", "media-1"],
    "search": ["search", "cat"],
    "faces list": ["faces", "list"],
    "analyze": ["analyze", "https://media.example/v.mp4", "--id", "media-1"],
}
SECRET = "s3cret-Token"


def _run(args: list[str], url: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VALOSSA_", "DATABASE_"))}
    env |= {"VALOSSA_INGEST_URL": url, "VALOSSA_INGEST_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("command", "url", "token", "named"),
    [
        ("status", "not a url", SECRET, "VALOSSA_INGEST_URL"),
        ("search", "ftp://127.0.0.1:8080", SECRET, "VALOSSA_INGEST_URL"),
        ("get", "http://[::1", SECRET, "VALOSSA_INGEST_URL"),
        ("faces list", "http://127.0.0.1:99999", SECRET, "VALOSSA_INGEST_URL"),
        ("analyze", "http://user:pa55word@[zz]:80/", SECRET, "VALOSSA_INGEST_URL"),
        ("status", "http://127.0.0.1:9", f"{SECRET}\nX-Injected: 1", "VALOSSA_INGEST_TOKEN"),
        ("search", "http://127.0.0.1:9", f"{SECRET}\u00f8", "VALOSSA_INGEST_TOKEN"),
        ("get", "http://127.0.0.1:9", f"{SECRET} two", "VALOSSA_INGEST_TOKEN"),
        ("faces list", "http://127.0.0.1:9", f"{SECRET}\x01", "VALOSSA_INGEST_TOKEN"),
        ("analyze", "http://127.0.0.1:9", "  \n", "VALOSSA_INGEST_TOKEN"),
    ],
)
def test_one_line_naming_the_variable_and_exit_2(
    command: str, url: str, token: str, named: str
) -> None:
    ran = _run(COMMANDS[command], url, token)

    assert ran.returncode == ExitCode.USAGE, (ran.stdout, ran.stderr)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("error: ")
    assert named in lines[0]
    assert SECRET not in ran.stderr + ran.stdout
    assert "pa55word" not in ran.stderr


def test_a_pasted_token_with_surrounding_whitespace_is_used_as_meant() -> None:
    # Nothing listens on port 9: the token got past the checks and the command tried to connect.
    ran = _run(COMMANDS["status"], " http://127.0.0.1:9/ ", f" {SECRET}\n")
    assert ran.returncode == ExitCode.UNREACHABLE, ran.stderr
    assert "cannot reach the service at http://127.0.0.1:9 " in ran.stderr
