"""The client commands given a malformed VALOSSA_INGEST_URL, a token no header can carry or an
--out DIR that cannot be written: one line, exit code 2 (usage), never a traceback or the
token itself; and no answer of the service makes `analyze --out` write outside DIR."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from service.analyses.remote_results import write_results
from service.remote import ExitCode, RemoteError
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


def test_an_out_dir_that_cannot_be_written_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for out in (a_file, a_file / "below"):
        # Nothing listens on port 9: a check made after contacting the service would exit 3.
        args = [*COMMANDS["analyze"], "--out", str(out)]
        ran = _run(args, "http://127.0.0.1:9", SECRET)
        assert ran.returncode == ExitCode.USAGE, ran.stderr
        assert ran.stderr.strip().splitlines() == [
            f"error: cannot write results to {out}: "
            + ("it is not a directory" if out == a_file else "Not a directory")
        ]


@pytest.mark.parametrize(
    "result_type", ["../../escaped", "/tmp/absolute", "sub/dir", "..", "core\x00", "Core"]
)
async def test_a_result_type_that_is_no_file_name_writes_nothing(
    tmp_path: Path, result_type: str
) -> None:
    analysis = {
        "id": "a-1",
        "customer_media_id": "m-1",
        "results": {
            "core": {"state": "stored", "sha256": None},
            result_type: {"state": "stored", "sha256": None},
        },
    }

    def service(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/metadata"):
            return httpx.Response(200, content=b"{}")
        return httpx.Response(200, json={"current_analysis_id": "a-1"})

    out = tmp_path / "deep" / "out"
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(service), base_url="http://service"
    ) as client:
        with pytest.raises(RemoteError) as refused:
            await write_results(Console(file=io.StringIO()), client, analysis, out)

    assert refused.value.exit_code == ExitCode.SERVICE_ERROR
    assert "cannot be a file name" in str(refused.value)
    assert [name for _, _, names in os.walk(tmp_path) for name in names] == []
