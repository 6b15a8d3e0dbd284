"""Shared by the Valossa client tests: constants, a sleep recorder, and the OpenAPI checker.

The checker validates every request the client builds and every response it gets against
openapi/*.yaml (openapi-core, through adapters over httpx.Request/Response).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

BASE_URL = "https://valossa.test"
API_KEY = "sk-test-0123456789abcdef"
OPENAPI_DIR = Path(__file__).resolve().parents[2] / "openapi"
SPEC_FILES = {"core": "valossa-core.yaml", "training": "valossa-training.yaml"}


@dataclass
class SleepRecorder:
    """Stands in for asyncio.sleep and remembers how long the client wanted to wait."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def load_spec(api: str) -> dict[str, Any]:
    """The parsed OpenAPI document of one API ("core" or "training")."""
    document: dict[str, Any] = yaml.safe_load((OPENAPI_DIR / SPEC_FILES[api]).read_text())
    return document


@functools.cache
def openapi_for(api: str) -> OpenAPI:
    """An openapi-core validator whose server is relative, so any test host matches."""
    document = load_spec(api)
    document["servers"] = [{"url": f"/{api}/1.0"}]
    return OpenAPI.from_dict(document)


class _Request:
    """httpx.Request seen through openapi-core's Request protocol."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        query = ImmutableMultiDict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        self.parameters = RequestParameters(query=query, header=Headers(dict(request.headers)))

    @property
    def host_url(self) -> str:
        return f"{self._request.url.scheme}://{self._request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", "")).lower()


class _Response:
    """httpx.Response seen through openapi-core's Response protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return str(self._response.headers.get("content-type", "")).lower()

    @property
    def headers(self) -> Headers:
        return Headers(dict(self._response.headers))

    @property
    def data(self) -> bytes | None:
        return self._response.content


@dataclass
class ContractCheckingTransport(httpx.AsyncBaseTransport):
    """Forwards to `inner` and records every spec violation of requests and responses."""

    inner: httpx.AsyncBaseTransport
    violations: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    _specs: dict[str, OpenAPI] = field(default_factory=dict)

    def _spec(self, path: str) -> OpenAPI | None:
        api = path.split("/")[1] if path.count("/") >= 2 else ""
        if api not in SPEC_FILES:
            return None  # e.g. the emulator's own /_emulator/ endpoints
        if api not in self._specs:
            self._specs[api] = openapi_for(api)
        return self._specs[api]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        spec = self._spec(request.url.path)
        adapted = _Request(request)
        name = request.url.path.rsplit("/", 1)[-1]
        if spec is not None:
            self._record(f"request {name}", spec.unmarshal_request(adapted).errors)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        replayed = httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
        # An empty subtitle file (a video without speech) is valid, but openapi-core
        # reports any empty body as MissingData; only JSON bodies must be non-empty.
        empty_text = not content and "json" not in replayed.headers.get("content-type", "json")
        if spec is not None and not empty_text:
            result = spec.unmarshal_response(adapted, _Response(replayed))
            self._record(f"response {name} {response.status_code}", result.errors)
        return replayed

    def _record(self, what: str, errors: Iterable[Exception]) -> None:
        for error in errors:
            causes = getattr(error, "schema_errors", None) or getattr(error, "__cause__", None)
            self.violations.append(f"{what}: {type(error).__name__}: {error} ({causes})")
        self.checked.append(what)

    async def aclose(self) -> None:
        await self.inner.aclose()
