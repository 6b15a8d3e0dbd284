"""Send one documented Valossa call: encode it, authenticate it, retry it, map its errors."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import httpx
import pydantic

from service.text import storable_json
from service.valossa.errors import (
    ValossaError,
    ValossaTransportError,
    error_from_response,
    protocol_error,
)
from service.valossa.multipart import StreamedPart, streamed_form
from service.valossa.redact import redact_text
from service.valossa.retry import RetryPolicy, delay, should_retry

logger = logging.getLogger("service.valossa")

Model = TypeVar("Model", bound=pydantic.BaseModel)
#: A multipart part: (filename, content, content type).
FilePart = tuple[str, bytes, str]
#: A JSON value as we send it (request models are dumped to this before sending).
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True)
class Call:
    """One request to one documented function, encoded the way its documentation says."""

    api: Literal["core", "training"]
    function: str
    #: json: POST with a JSON body; query: GET with query parameters; form: multipart POST.
    encoding: Literal["json", "query", "form"]
    idempotent: bool
    fields: Mapping[str, JsonValue] = field(default_factory=dict)
    files: Mapping[str, FilePart] = field(default_factory=dict)
    #: A form's file part streamed from a one-shot source (such a call is never retried).
    streamed: StreamedPart | None = None


class Caller:
    """Holds the HTTP client, the key and the retry policy; everything a Call needs."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: pydantic.SecretStr,
        base_url: str,
        retry: RetryPolicy,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._api_key = api_key

    def build(self, call: Call) -> httpx.Request:
        """The httpx request for a call, with the api_key where its documentation puts it."""
        url = f"{self.base_url}/{call.api}/1.0/{call.function}"
        key = self._api_key.get_secret_value()
        if call.encoding == "query":
            params = {"api_key": key, **{k: _query_value(v) for k, v in call.fields.items()}}
            return self.http.build_request("GET", url, params=params)
        if call.encoding == "json":
            return self.http.build_request("POST", url, json={"api_key": key, **call.fields})
        if call.streamed is not None:
            fields = {"api_key": key, **{k: _query_value(v) for k, v in call.fields.items()}}
            headers, content = streamed_form(fields, call.streamed)
            return self.http.build_request("POST", url, content=content, headers=headers)
        # (None, value) parts make httpx send multipart/form-data even without a file part.
        parts: dict[str, tuple[str | None, bytes | str] | FilePart] = {"api_key": (None, key)}
        parts.update({k: (None, _query_value(v)) for k, v in call.fields.items()})
        parts.update(call.files)
        return self.http.build_request("POST", url, files=parts)

    async def model(self, call: Call, model: type[Model]) -> Model:
        """Send a call and parse its JSON reply as `model`."""
        response = await self._send(call, stream=False)
        try:
            # A NUL or lone surrogate escape in any string would be refused by Postgres (or by
            # the parser): it becomes U+FFFD, and the rest of the reply is kept.
            return model.model_validate_json(storable_json(response.content or b"{}"))
        except pydantic.ValidationError as exc:
            problem = f"reply is not a valid {model.__name__}: {exc.error_count()} error(s)"
            raise protocol_error(response, function=call.function, problem=problem) from None

    @contextlib.asynccontextmanager
    async def stream(self, call: Call) -> AsyncIterator[httpx.Response]:
        """Send a call and yield its successful response with the body not yet read."""
        response = await self._send(call, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def _send(self, call: Call, *, stream: bool) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            error = await self._attempt(call, stream=stream)
            if not isinstance(error, ValossaError):
                return error
            wait = delay(attempt, error.retry_after, self.retry)
            elapsed = time.monotonic() - started
            if not should_retry(
                error,
                idempotent=call.idempotent,
                attempt=attempt,
                elapsed=elapsed,
                wait=wait,
                policy=self.retry,
            ):
                raise error
            logger.warning(
                "valossa %s attempt %d failed (%s); retrying in %.2fs",
                call.function,
                attempt,
                error,
                wait,
            )
            await self.retry.sleep(wait)

    async def _attempt(self, call: Call, *, stream: bool) -> httpx.Response | ValossaError:
        try:
            response = await self.http.send(self.build(call), stream=stream)
        except httpx.TransportError as exc:
            # Not chained: httpx exceptions carry the request, whose URL holds the key.
            detail = redact_text(str(exc)) or "no detail"
            return ValossaTransportError(
                f"{call.function}: {type(exc).__name__}: {detail}",
                function=call.function,
                timed_out=isinstance(exc, httpx.TimeoutException),
            )
        logger.debug("valossa %s -> HTTP %d", call.function, response.status_code)
        if response.is_success:
            return response
        try:
            await response.aread()
        except httpx.TransportError as exc:
            return ValossaTransportError(
                f"{call.function}: {type(exc).__name__} reading an error body",
                function=call.function,
            )
        finally:
            await response.aclose()
        secret = (self._api_key.get_secret_value(),)
        error = error_from_response(response, function=call.function, redact=secret)
        assert error is not None  # a non-2xx response always maps to an error
        return error


def _query_value(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
