"""Keep the API key out of log lines: httpx logs every request URL, query string included."""

from __future__ import annotations

import logging
import re

#: `api_key=<value>` in a query string or form-encoded text.
_API_KEY_PARAM = re.compile(r"(api_key=)[^&\s\"']+")
#: `"api_key": "<value>"` in JSON text.
_API_KEY_JSON = re.compile(r"(\"api_key\"\s*:\s*\")[^\"]*")
MASK = "**********"


#: Any run of this many characters of the key is masked: a truncated or split echo of the key
#: still gives most of it away.
MIN_FRAGMENT = 6


def mask_fragments(text: str, secret: str, *, min_length: int = MIN_FRAGMENT) -> str:
    """`text` with every run of at least `min_length` characters of `secret` masked (the whole
    secret, when it is shorter than that)."""
    if not secret:
        return text
    if len(secret) < min_length:
        return text.replace(secret, MASK)
    starts = {secret[i : i + min_length] for i in range(len(secret) - min_length + 1)}
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i : i + min_length] not in starts:
            out.append(text[i])
            i += 1
            continue
        end = i + min_length
        while end < len(text) and text[i : end + 1] in secret:
            end += 1
        out.append(MASK)
        i = end
    return "".join(out)


def redact_text(text: str) -> str:
    """Replace every api_key value in a URL, form or JSON text with a mask."""
    return _API_KEY_JSON.sub(rf"\g<1>{MASK}", _API_KEY_PARAM.sub(rf"\g<1>{MASK}", text))


class ApiKeyRedactingFilter(logging.Filter):
    """A logging filter that rewrites records so no api_key value reaches a handler.

    String arguments are redacted one by one, so that formatters which read a record's
    arguments (uvicorn's access log reads its path from them) still find them in place.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction(*logger_names: str) -> None:
    """Attach the redacting filter to the named loggers once (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ApiKeyRedactingFilter) for f in logger.filters):
            logger.addFilter(ApiKeyRedactingFilter())
