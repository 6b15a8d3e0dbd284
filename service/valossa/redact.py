"""Keep the API key out of log lines: httpx logs every request URL, query string included."""

from __future__ import annotations

import logging
import re

#: `api_key=<value>` in a query string or form-encoded text.
_API_KEY_PARAM = re.compile(r"(api_key=)[^&\s\"']+")
#: `"api_key": "<value>"` in JSON text.
_API_KEY_JSON = re.compile(r"(\"api_key\"\s*:\s*\")[^\"]*")
MASK = "**********"


def redact_text(text: str) -> str:
    """Replace every api_key value in a URL, form or JSON text with a mask."""
    return _API_KEY_JSON.sub(rf"\g<1>{MASK}", _API_KEY_PARAM.sub(rf"\g<1>{MASK}", text))


class ApiKeyRedactingFilter(logging.Filter):
    """A logging filter that rewrites records so no api_key value reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
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
