"""Process settings, read once from the environment and passed down (never read at import)."""

from __future__ import annotations

import ipaddress
from typing import Literal

import httpx
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.urls import mask_password, normalize_database_url
from service.webhooks.signing import parse_secrets

DEFAULT_VALOSSA_BASE_URL = "https://api.valossa.com"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the variable and never its secret value."""


class Settings(BaseSettings):
    """Every setting of the service; the README lists them with their defaults."""

    # No inf or nan: TICK_INTERVAL_S=1e999 would be a scheduler that never ticks.
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, allow_inf_nan=False
    )

    #: Postgres, as postgresql+psycopg://user:pass@host/db; unset means "embedded" in dev and tests.
    database_url: SecretStr | None = None
    #: Valossa API base URL, without /core/1.0.
    valossa_base_url: str = DEFAULT_VALOSSA_BASE_URL
    valossa_api_key: SecretStr | None = None
    #: Where Valossa reaches us: callbacks go to PUBLIC_BASE_URL/callbacks/valossa/<token>.
    public_base_url: str = "http://127.0.0.1:8080"
    #: Comma-separated bearer tokens accepted from CMS clients.
    ingest_api_tokens: SecretStr = SecretStr("")
    #: Key of the callback-URL tokens and the search cursors (never of CMS webhooks).
    callback_signing_secret: SecretStr | None = None

    #: At most this many analyses submitted to Valossa and unfinished at once (per API key).
    valossa_max_in_flight: int = Field(default=20, ge=1)
    valossa_timeout_s: float = Field(default=30.0, gt=0)
    valossa_max_connections: int = Field(default=20, ge=1)
    upload_parallelism: int = Field(default=4, ge=1, le=32)

    #: How often the worker looks for due work.
    tick_interval_s: float = Field(default=2.0, gt=0)
    #: Bounds for the next status check; Valossa's poll_again_after_seconds is clamped into them.
    poll_min_interval_s: float = Field(default=5.0, ge=0)
    poll_max_interval_s: float = Field(default=600.0, gt=0)
    #: While Valossa's callbacks reliably arrive, a submitted analysis is polled only this often
    #: (a safety net); when they stop, polling falls back to Valossa's suggestion at once.
    callback_safety_poll_s: float = Field(default=900.0, gt=0)
    #: How long a worker owns a claimed analysis before another may take it over.
    lease_s: float = Field(default=120.0, gt=0)
    #: Deadlines for non-terminal states; an analysis past one is flagged as overdue.
    submit_deadline_s: float = Field(default=3600.0, gt=0)
    analysis_deadline_s: float = Field(default=6 * 3600.0, gt=0)
    #: Upper bound of the exponential backoff after transient errors.
    max_backoff_s: float = Field(default=300.0, gt=0)
    #: Run the worker's scheduler inside `serve` as well.
    run_worker_in_api: bool = False

    #: Where the CMS is told that an analysis ended (Standard Webhooks); unset disables webhooks.
    cms_webhook_url: str | None = None
    #: Standard Webhooks secret(s) that sign CMS webhooks: `whsec_` + base64; several
    #: (comma- or space-separated) while the CMS rotates, every one signing each delivery.
    cms_webhook_secret: SecretStr | None = None
    #: The CMS endpoint is disabled after failing this long without a single success (5 days).
    webhook_disable_after_s: float = Field(default=5 * 86400.0, gt=0)
    #: Total time limit of one delivery attempt (connect, send, answer), whatever the CMS does.
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Deliveries one worker sends at once; a slow CMS holds one of them, not the others.
    webhook_concurrency: int = Field(default=8, ge=1, le=100)
    #: Seconds to wait after each failed attempt; when they run out the delivery has failed.
    webhook_retry_schedule_s: str = "5,300,1800,7200,18000,36000,36000"
    #: Sources we fetch ourselves may point at private/loopback addresses only when this is true.
    allow_private_source_urls: bool = False
    #: source_url downloads one worker runs at once (apart from its other steps; no Valossa slot).
    source_download_concurrency: int = Field(default=4, ge=1, le=64)
    #: Download attempts of a source_url before its analysis fails (transient errors only).
    source_max_attempts: int = Field(default=8, ge=1)
    #: Largest source accepted (Valossa takes files up to 7 GB).
    source_max_bytes: int = Field(default=7 * 1024**3, ge=1)
    #: Longest one download of a source may take.
    source_download_timeout_s: float = Field(default=4 * 3600.0, gt=0)
    #: Slowest a download may be, measured over each SOURCE_THROUGHPUT_WINDOW_S.
    source_min_bytes_per_s: float = Field(default=16 * 1024.0, ge=0)
    #: The window of the throughput rule; a source silent this long is given up at once.
    source_throughput_window_s: float = Field(default=60.0, gt=0)
    #: How long a downloaded source waits for a free Valossa slot before its file is dropped.
    source_slot_wait_s: float = Field(default=1800.0, gt=0)
    #: Where downloads are spooled (default: the system's temporary directory).
    source_spool_dir: str | None = None
    #: An upload through /v1/uploads with no new chunk for this long expires.
    upload_ttl_s: float = Field(default=24 * 3600.0, gt=0)

    #: A level name of Python's logging, any case.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    #: `console` (one readable line per record) or `json` (one JSON object per line).
    log_format: Literal["console", "json"] = "console"

    #: Largest request body of the CMS API, and of Valossa's callback (bytes actually received).
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    callback_max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    #: A connection must send a request's headers within this time (slow clients are dropped).
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    #: Most bytes of a request line and headers (URLs with long percent-encoded ids fit).
    http_max_header_bytes: int = Field(default=64 * 1024, ge=8 * 1024)
    #: A request's whole body must arrive within this time once its headers are in.
    http_body_timeout_s: float = Field(default=30.0, gt=0)
    #: An idle kept-alive connection is closed after this time.
    http_keepalive_timeout_s: int = Field(default=5, ge=1)
    #: Peers whose X-Forwarded-For/-Proto are believed (comma-separated IPs or CIDRs, `*` = all).
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalize_database_url(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        if not raw.strip():
            return None
        return normalize_database_url(raw)

    @field_validator("cms_webhook_url", mode="before")
    @classmethod
    def _check_webhook_url(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        return str(_http_url("CMS_WEBHOOK_URL", value))

    @field_validator("valossa_base_url", "public_base_url", mode="after")
    @classmethod
    def _check_base_url(cls, value: str, info: ValidationInfo) -> str:
        # Checked at start-up: else the worker starts and every call, or every callback URL
        # given to Valossa, fails later.
        _http_url(str(info.field_name).upper(), value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("forwarded_allow_ips", mode="after")
    @classmethod
    def _check_forwarded_allow_ips(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    "FORWARDED_ALLOW_IPS must be comma-separated IP addresses or networks "
                    f"(CIDR), or *; {entry!r} is neither"
                ) from None
        return value

    @field_validator("cms_webhook_secret", mode="after")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_secrets(value.get_secret_value())
        return value

    @field_validator("webhook_retry_schedule_s", mode="after")
    @classmethod
    def _check_retry_schedule(cls, value: str) -> str:
        _delays(value)
        return value

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> Settings:
        if self.cms_webhook_url and self.cms_webhook_secret is None:
            raise ValueError(
                "CMS_WEBHOOK_URL is set but CMS_WEBHOOK_SECRET is not "
                "(make one with `valossa-ingest webhook-secret`)"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlives_a_valossa_call(self) -> Settings:
        # A claim that expires during a slow new_job would let a second worker submit again.
        if self.lease_s <= 2 * self.valossa_timeout_s:
            raise ValueError("LEASE_S must be more than twice VALOSSA_TIMEOUT_S")
        if self.poll_min_interval_s > self.poll_max_interval_s:
            raise ValueError("POLL_MIN_INTERVAL_S must not exceed POLL_MAX_INTERVAL_S")
        return self

    @property
    def api_tokens(self) -> list[str]:
        """The CMS bearer tokens, without empty entries."""
        raw = self.ingest_api_tokens.get_secret_value()
        return [token.strip() for token in raw.split(",") if token.strip()]

    @property
    def webhook_secrets(self) -> list[str]:
        """The CMS webhook secrets, newest first (empty when unset)."""
        if self.cms_webhook_secret is None:
            return []
        return parse_secrets(self.cms_webhook_secret.get_secret_value())

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        """WEBHOOK_RETRY_SCHEDULE_S as seconds."""
        return _delays(self.webhook_retry_schedule_s)

    @property
    def database_url_masked(self) -> str:
        """DATABASE_URL with its password hidden, safe for logs and error messages."""
        if self.database_url is None:
            return "<embedded>"
        return mask_password(self.database_url.get_secret_value())

    def require(self, *names: str) -> None:
        """Fail with a message naming each missing setting (by its environment variable)."""
        missing = []
        for name in names:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value in (None, ""):
                missing.append(name.upper())
        if missing:
            raise SettingsError(f"missing required setting(s): {', '.join(missing)}")


def _http_url(name: str, value: str) -> httpx.URL:
    """`value` as a URL, if it is an absolute http(s) URL with a host and a valid port."""
    try:
        url = httpx.URL(value.strip())
        port = url.port
    except (httpx.InvalidURL, ValueError):
        raise ValueError(f"{name} is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{name} must be an absolute http:// or https:// URL")
    if port is not None and not 0 < port <= 65535:
        raise ValueError(f"{name} has port {port}; a port is 1 to 65535")
    return url


def _delays(raw: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(
            "WEBHOOK_RETRY_SCHEDULE_S must be comma-separated seconds, e.g. 5,300,1800"
        ) from None
    if any(delay < 0 for delay in delays) or len(delays) > 50:
        raise ValueError("WEBHOOK_RETRY_SCHEDULE_S must list at most 50 delays, none negative")
    return delays


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win (used by the CLI and tests).

    Raises SettingsError naming each wrong variable; unlike pydantic's own message it never
    repeats the value, which may be a secret (DATABASE_URL holds a password).
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            named = not error["loc"] or message.startswith(name)
            problems.append(message if named else f"{name}: {message}")
        raise SettingsError("invalid setting(s): " + "; ".join(problems)) from None
