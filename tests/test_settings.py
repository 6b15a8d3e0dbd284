"""Settings: environment names, defaults, URL normalisation, and secrets that never print."""

from __future__ import annotations

import logging

import pytest

from service.logs import RedactSecrets, secret_values
from service.settings import DEFAULT_VALOSSA_BASE_URL, Settings, SettingsError


def test_defaults_work_for_local_use(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "VALOSSA_BASE_URL", "VALOSSA_API_KEY", "INGEST_API_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url is None
    assert settings.valossa_base_url == DEFAULT_VALOSSA_BASE_URL == "https://api.valossa.com"
    assert settings.api_tokens == []
    assert settings.valossa_max_in_flight == 20


def test_reads_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@db.example:5433/app")
    monkeypatch.setenv("VALOSSA_API_KEY", "k-123456")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ingest.example")
    monkeypatch.setenv("INGEST_API_TOKENS", " a-token , b-token ,,")
    monkeypatch.setenv("VALOSSA_MAX_IN_FLIGHT", "7")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == (
        "postgresql+psycopg://u:pw@db.example:5433/app"
    )
    assert settings.database_url_masked == "postgresql+psycopg://u:***@db.example:5433/app"
    assert settings.api_tokens == ["a-token", "b-token"]
    assert settings.valossa_max_in_flight == 7


def test_secrets_do_not_appear_in_repr_or_dump() -> None:
    settings = Settings(
        database_url="postgresql://u:db-password@h/db",  # type: ignore[arg-type]
        valossa_api_key="valossa-secret-key",  # type: ignore[arg-type]
        ingest_api_tokens="cms-secret-token",  # type: ignore[arg-type]
        callback_signing_secret="signing-secret-value",  # type: ignore[arg-type]
    )
    shown = repr(settings) + str(settings.model_dump()) + settings.model_dump_json()
    for secret in ("db-password", "valossa-secret-key", "cms-secret-token", "signing-secret"):
        assert secret not in shown


def test_require_names_missing_variables() -> None:
    with pytest.raises(SettingsError, match="VALOSSA_API_KEY, CALLBACK_SIGNING_SECRET"):
        Settings().require("valossa_api_key", "callback_signing_secret")


def test_non_postgres_url_is_refused() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        Settings(database_url="sqlite:///x.db")  # type: ignore[arg-type]


def test_log_filter_redacts_every_configured_secret() -> None:
    settings = Settings(
        database_url="postgresql://u:db-password@h/db",  # type: ignore[arg-type]
        valossa_api_key="valossa-secret-key",  # type: ignore[arg-type]
        ingest_api_tokens="cms-secret-token",  # type: ignore[arg-type]
    )
    record = logging.LogRecord(
        "t",
        logging.INFO,
        __file__,
        1,
        "key=%s token=%s",
        ("valossa-secret-key", "cms-secret-token"),
        None,
    )
    RedactSecrets(secret_values(settings)).filter(record)
    assert record.getMessage() == "key=*** token=***"


def test_inconsistent_timing_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="LEASE_S"):
        Settings(lease_s=30, valossa_timeout_s=30)
    with pytest.raises(ValueError, match="POLL_MIN_INTERVAL_S"):
        Settings(poll_min_interval_s=60, poll_max_interval_s=10)
