"""`valossa-ingest serve` in a subprocess: its memory can be measured and its log read."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from service.process.serving import bind_socket
from tests.conftest import REPO_ROOT

#: What `serve` needs besides DATABASE_URL; short timeouts so that tests of them are quick.
SERVE_ENV = {
    "VALOSSA_API_KEY": "edge-valossa-key",
    "VALOSSA_BASE_URL": "http://127.0.0.1:9",
    "CALLBACK_SIGNING_SECRET": "edge-signing-secret",
    "INGEST_API_TOKENS": "edge-token",
    "LOG_FORMAT": "json",
    "HTTP_HEADER_TIMEOUT_S": "1",
    "HTTP_BODY_TIMEOUT_S": "2",
    "HTTP_KEEPALIVE_TIMEOUT_S": "1",
}
AUTH = {"Authorization": "Bearer edge-token"}


@dataclass
class LiveService:
    """A running `serve` process: where it listens, its pid, and its log file."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss(self) -> int:
        """The process's resident memory, in bytes."""
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def connect(self, timeout: float = 30.0) -> socket.socket:
        """A raw TCP connection to the service."""
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def log_lines(self) -> list[str]:
        """Every line the service wrote to stderr so far."""
        return self.log_path.read_text(errors="replace").splitlines()

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log records so far (every line must be one)."""
        return [json.loads(line) for line in self.log_lines() if line.strip()]


def free_port() -> int:
    """A port nothing listens on right now."""
    sock = bind_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@contextlib.contextmanager
def running_service(database_url: str, log_path: Path, **env: str) -> Iterator[LiveService]:
    """`valossa-ingest serve` on a free loopback port until the block ends."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in SERVE_ENV}
    environment.update(SERVE_ENV, DATABASE_URL=database_url, **env)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
            env=environment,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = LiveService(host="127.0.0.1", port=port, process=process, log_path=log_path)
    try:
        _wait_ready(service)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(service: LiveService) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError("serve exited:\n" + "\n".join(service.log_lines()))
        try:
            if httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve never became ready:\n" + "\n".join(service.log_lines()))
