"""Emulator configuration: start-up settings from the environment and the run-time knobs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The documented default chunk size of initialize_file_upload.
DEFAULT_CHUNK_SIZE = 4_194_304

ListOrder = Literal["newest", "oldest"]


class FaultConfig(BaseModel):
    """The knobs that may change while the emulator runs (through `PATCH /_emulator/config`)."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    speed: float = Field(default=5.0, gt=0, description="Emulated seconds per wall second.")
    callback_drop_rate: float = Field(default=0.0, ge=0, le=1)
    callback_delay_s: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    throttle_rate: float = Field(default=0.0, ge=0, le=1)
    lost_response_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: float = Field(default=0.0, ge=0)
    job_failure_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int | None = None
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, gt=0)
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After of throttled answers.")
    max_running_jobs_per_key: int = Field(
        default=2,
        ge=0,
        description="Jobs beyond this many analysing per key wait on_hold; 0: no limit.",
    )
    callback_timeout_s: float = Field(default=10.0, gt=0)
    callback_retry_delay_s: float = Field(default=1.0, ge=0)
    # Where Valossa's documentation is silent, these pick the answer (README: "Our choices").
    list_order: ListOrder = Field(
        default="newest",
        description="list_jobs order; with oldest, n_jobs keeps the oldest jobs.",
    )
    undocumented_fields: bool = Field(
        default=True,
        description="list_jobs/job_status also show fields the docs do not (created_at, "
        "media_info.video.url, description, language, job_status.job_id).",
    )
    cancel_status: str = Field(
        default="canceled",
        min_length=1,
        description="What cancel_job answers and job_status shows after a successful cancel.",
    )
    cancel_final_status: str | None = Field(
        default=None,
        min_length=1,
        description="If set, a canceled job shows this after a few emulated seconds.",
    )
    cancel_refusal_code: int = Field(
        default=400, ge=400, le=599, description="HTTP status of a refused cancel_job."
    )


class EmulatorSettings(BaseSettings, FaultConfig):
    """Everything the emulator reads at start-up; env names are `VALOSSA_EMULATOR_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="VALOSSA_EMULATOR_", extra="ignore", validate_assignment=False
    )

    api_keys: SecretStr = SecretStr("dev-valossa-key")
    keys_without_faces: SecretStr = Field(
        default=SecretStr(""),
        description="Accepted keys whose subscription has no faces: the Training API refuses them.",
    )
    extra_languages: str = Field(
        default="",
        description="Language codes accepted besides the built-in list, comma-separated.",
    )
    data_dir: Path | None = Field(
        default=None,
        description="Where the state, uploads, media and results go; a fresh temp dir if unset.",
    )
    s3_root: Path | None = Field(
        default=None,
        description="A local directory standing in for S3 (s3://bucket/key -> <root>/bucket/key); "
        "s3:// URLs are refused while unset.",
    )
    tick_s: float = Field(default=0.05, gt=0, description="How often the job clock advances.")

    @field_validator("api_keys")
    @classmethod
    def _at_least_one_key(cls, value: SecretStr) -> SecretStr:
        if not split_keys(value):
            raise ValueError("at least one API key is needed")
        return value

    def accepted_keys(self) -> list[str]:
        """Every accepted API key: api_keys and keys_without_faces."""
        keys = split_keys(self.api_keys)
        return keys + [k for k in split_keys(self.keys_without_faces) if k not in keys]

    def fault_config(self) -> FaultConfig:
        """The run-time knobs, initialised from these settings."""
        return FaultConfig.model_validate(self.model_dump(include=set(FaultConfig.model_fields)))


def split_keys(value: SecretStr) -> list[str]:
    """Split a comma-separated key list, dropping blanks."""
    return [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
