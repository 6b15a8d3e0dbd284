"""The Valossa client's errors, and the one function that turns a response into one.

```
ValossaError                      base; .retryable, .retry_after; never contains the api_key
├── ValossaTransportError         connect/read/write errors, timeouts            retryable
├── ValossaRateLimited            HTTP 429, .retry_after from Retry-After        retryable
├── ValossaServerError            HTTP 5xx, .status_code, .messages              retryable
├── ValossaApiError               HTTP 4xx with Valossa's {"errors": [...]}      not retryable
│   ├── ValossaBadRequest         400
│   ├── ValossaAuthError          401 (and 403)
│   └── ValossaNotFound           404
└── ValossaProtocolError          a body that is not JSON or not the documented shape
```
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import ClassVar

import httpx

from service.text import scrub, storable_json
from service.valossa.redact import mask_fragments

#: How much of an error body an error message quotes (after the key is masked).
SNIPPET_CHARS = 200
#: Longest single message from Valossa's `{"errors": [...]}` kept in an error.
MESSAGE_CHARS = 500


class ValossaError(Exception):
    """Base of every error the Valossa client raises."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, function: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.function = function
        self.retry_after = retry_after


class ValossaTransportError(ValossaError):
    """The request did not complete: connection refused/reset, timeout, broken stream."""

    retryable = True

    def __init__(self, message: str, *, function: str, timed_out: bool = False) -> None:
        super().__init__(message, function=function)
        #: We gave up waiting: the request may still be running at Valossa.
        self.timed_out = timed_out


class _HttpError(ValossaError):
    def __init__(
        self,
        message: str,
        *,
        function: str,
        status_code: int,
        messages: tuple[str, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, function=function, retry_after=retry_after)
        self.status_code = status_code
        self.messages = messages


class ValossaRateLimited(_HttpError):
    """HTTP 429: slow down; `retry_after` is the server's hint in seconds, if it gave one."""

    retryable = True


class ValossaServerError(_HttpError):
    """HTTP 5xx: Valossa (or a proxy in front of it) failed; worth retrying."""

    retryable = True


class ValossaApiError(_HttpError):
    """HTTP 4xx with Valossa's JSON error body: the request itself is wrong; do not retry."""


class ValossaBadRequest(ValossaApiError):
    """HTTP 400: malformed request, missing or invalid fields."""


class ValossaAuthError(ValossaApiError):
    """HTTP 401/403: the API key is invalid, missing, or lacks permission."""


class ValossaNotFound(ValossaApiError):
    """HTTP 404: the job (or other object) does not exist for this key."""


class ValossaProtocolError(_HttpError):
    """The response does not follow the documented format (non-JSON, wrong shape)."""


_API_ERRORS: dict[int, type[ValossaApiError]] = {
    400: ValossaBadRequest,
    401: ValossaAuthError,
    403: ValossaAuthError,
    404: ValossaNotFound,
}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def error_messages(body: bytes) -> tuple[str, ...] | None:
    """The messages of a `{"errors": [{"message": ...}]}` body, or None if it is not one."""
    try:
        document = json.loads(storable_json(body))
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("errors"), list):
        return None
    messages = [e.get("message") for e in document["errors"] if isinstance(e, dict)]
    if not messages or not all(isinstance(m, str) for m in messages):
        return None
    return tuple(str(m) for m in messages)


def error_from_response(
    response: httpx.Response, *, function: str, redact: tuple[str, ...] = ()
) -> ValossaError | None:
    """The error a read response means (None for a 2xx); strings in `redact` are masked."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    found = error_messages(response.content)
    messages = tuple(_hide(m, redact)[:MESSAGE_CHARS] for m in found or ())
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    detail = "; ".join(messages) if messages else _snippet(response, redact)
    message = f"{function}: HTTP {status}: {detail}"
    kind: type[_HttpError]
    if status == 429:
        kind = ValossaRateLimited
    elif status >= 500:
        kind = ValossaServerError
    elif 400 <= status < 500 and found is not None:
        kind = _API_ERRORS.get(status, ValossaApiError)
    else:
        kind = ValossaProtocolError
        message = f"{function}: HTTP {status} without Valossa's JSON error body: {detail}"
    return kind(
        message, function=function, status_code=status, messages=messages, retry_after=retry_after
    )


def protocol_error(response: httpx.Response, *, function: str, problem: str) -> ValossaError:
    """An error for a 2xx response whose body is not what the documentation promises."""
    return ValossaProtocolError(
        f"{function}: HTTP {response.status_code}: {problem}",
        function=function,
        status_code=response.status_code,
    )


def _snippet(response: httpx.Response, redact: tuple[str, ...]) -> str:
    # Masked before it is cut: a cut could split the key and leave a part of it unmasked.
    text = _hide(scrub(response.content[: 64 * 1024].decode("utf-8", "replace")), redact)
    return text.strip()[:SNIPPET_CHARS] or "(empty body)"


def _hide(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with each secret, and every run of 6+ of its characters, masked."""
    for secret in secrets:
        text = mask_fragments(text, secret)
    return text
