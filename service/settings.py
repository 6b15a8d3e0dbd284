"""Process settings, read once from the environment and passed down (never read at import)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.urls import mask_password, normalize_database_url

DEFAULT_VALOSSA_BASE_URL = "https://api.valossa.com"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the variable and never its secret value."""


class Settings(BaseSettings):
    """Every setting of the service; the README lists them with their defaults."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    #: Postgres, as postgresql+psycopg://user:pass@host/db; unset means "embedded" in dev and tests.
    database_url: SecretStr | None = None
    #: Valossa API base URL, without /core/1.0.
    valossa_base_url: str = DEFAULT_VALOSSA_BASE_URL
    valossa_api_key: SecretStr | None = None
    #: Where Valossa reaches us: callbacks go to PUBLIC_BASE_URL/callbacks/valossa/<token>.
    public_base_url: str = "http://127.0.0.1:8080"
    #: Comma-separated bearer tokens accepted from CMS clients.
    ingest_api_tokens: SecretStr = SecretStr("")
    #: Key for callback-URL tokens and outbound webhook signatures.
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

    log_level: str = "INFO"

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalize_database_url(cls, value: object) -> object:
        if isinstance(value, str):
            return normalize_database_url(value) if value.strip() else None
        if isinstance(value, SecretStr):
            raw = value.get_secret_value()
            return normalize_database_url(raw) if raw.strip() else None
        return value

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


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
