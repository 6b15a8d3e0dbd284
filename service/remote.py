"""The command line as a client of a running service (VALOSSA_INGEST_URL, VALOSSA_INGEST_TOKEN).

Commands such as `analyze`, `status`, `get`, `search` and `faces` talk to the service's HTTP API
with a CMS token, like any CMS would; they never need the database or the Valossa API key.
Every failure becomes a `RemoteError` with one readable line and a documented exit code.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from enum import IntEnum
from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SERVICE_URL = "http://127.0.0.1:8080"


class ExitCode(IntEnum):
    """Exit codes of the client commands (documented in the README)."""

    OK = 0
    #: The analysis ended, but not as finished (failed or canceled), with --wait.
    ANALYSIS_NOT_FINISHED = 1
    #: A wrong command line or configuration (a missing file, a missing token...).
    USAGE = 2
    #: The service could not be reached (connection refused, DNS, timeout).
    UNREACHABLE = 3
    #: The service refused the token (401).
    UNAUTHORIZED = 4
    #: The service refused the request (another 4xx); the problem's detail is printed.
    REFUSED = 5
    #: The service failed (5xx).
    SERVICE_ERROR = 6


class RemoteSettings(BaseSettings):
    """Where the service is and how to authenticate, read from the environment."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    valossa_ingest_url: str = DEFAULT_SERVICE_URL
    valossa_ingest_token: SecretStr = SecretStr("")


class RemoteError(Exception):
    """A client command failed; `str()` is the one line to print, `exit_code` the code."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def problem_detail(response: httpx.Response) -> str:
    """The `detail` of a problem+json answer, else a short description of the response."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def raise_for_problem(response: httpx.Response) -> None:
    """Turn a non-2xx answer into a RemoteError with the problem's detail and an exit code."""
    if response.is_success or response.status_code == 304:
        return
    detail = problem_detail(response)
    if response.status_code == 401:
        raise RemoteError(
            f"the service refused the token (set VALOSSA_INGEST_TOKEN): {detail}",
            ExitCode.UNAUTHORIZED,
        )
    if response.status_code < 500:
        raise RemoteError(f"refused ({response.status_code}): {detail}", ExitCode.REFUSED)
    raise RemoteError(
        f"the service failed ({response.status_code}): {detail}", ExitCode.SERVICE_ERROR
    )


def checked_token(raw: str) -> str:
    """The token to send (surrounding whitespace, as pasted, removed), or a usage RemoteError
    that never shows it: httpx would refuse it as a header value and quote it in its error."""
    token = raw.strip()
    if not token:
        raise RemoteError(
            "VALOSSA_INGEST_TOKEN is not set: export one of the service's INGEST_API_TOKENS",
            ExitCode.USAGE,
        )
    if not all("!" <= char <= "~" for char in token):
        raise RemoteError(
            "VALOSSA_INGEST_TOKEN has characters no bearer token has (spaces, control or "
            "non-ASCII characters): export one of the service's INGEST_API_TOKENS as it is",
            ExitCode.USAGE,
        )
    return token


def checked_service_url(raw: str) -> str:
    """VALOSSA_INGEST_URL without a trailing slash, if it is an http(s) URL with a host and a
    valid port; else a usage RemoteError naming what is wrong (never its user:password)."""
    example = f"e.g. {DEFAULT_SERVICE_URL}"
    try:
        url = httpx.URL(raw.strip())
        port = url.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise RemoteError(
            f"VALOSSA_INGEST_URL is not a valid URL ({exc}); {example}", ExitCode.USAGE
        ) from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise RemoteError(
            f"VALOSSA_INGEST_URL must be an http:// or https:// URL with a host; {example}",
            ExitCode.USAGE,
        )
    if port is not None and not 0 < port <= 65535:
        raise RemoteError(
            f"VALOSSA_INGEST_URL has port {port}; a port is 1 to 65535", ExitCode.USAGE
        )
    return str(url).rstrip("/")


@contextlib.asynccontextmanager
async def remote_client(
    settings: RemoteSettings | None = None,
    *,
    timeout_s: float = 60.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the service, authenticated; transport errors become RemoteError."""
    settings = settings or RemoteSettings()
    token = checked_token(settings.valossa_ingest_token.get_secret_value())
    base = checked_service_url(settings.valossa_ingest_url)
    try:
        async with httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            transport=transport,
        ) as client:
            yield client
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise RemoteError(
            f"cannot reach the service at {base} (VALOSSA_INGEST_URL): {reason}",
            ExitCode.UNREACHABLE,
        ) from None
