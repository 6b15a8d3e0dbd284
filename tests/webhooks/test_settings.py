"""CMS_WEBHOOK_SECRET and CMS_WEBHOOK_URL are checked at start-up, with one clear line each;
`valossa-ingest webhook-secret` makes a secret any Standard Webhooks library accepts."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook

from service.settings import Settings
from service.webhooks.signing import InvalidWebhookSecret, parse_secrets, signed_headers
from tests.conftest import REPO_ROOT
from tests.support.cms import OLD_SECRET, SECRET

SHORT = "whsec_" + base64.b64encode(b"x" * 23).decode()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )


def test_webhook_secret_command_prints_a_new_valid_secret() -> None:
    outputs = {_cli("webhook-secret", env={}).stdout.strip() for _ in range(2)}
    assert len(outputs) == 2, "each run makes a new secret"
    for secret in outputs:
        assert parse_secrets(secret) == [secret]
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
        body = '{"type":"analysis.finished"}'
        Webhook(secret).verify(body, signed_headers([secret], "msg_1", body))


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "does not start with 'whsec_'"),
        ("whsec_not*base64!!", "not valid base64"),
        (SHORT, "decodes to 23 bytes; at least 24"),
        (f"{SECRET},{SHORT}", "secret 2 of 2 decodes to 23 bytes"),
        (" , ", "empty"),
    ],
)
def test_malformed_secrets_are_refused_without_echoing_them(raw: str, why: str) -> None:
    with pytest.raises(InvalidWebhookSecret, match=why) as caught:
        parse_secrets(raw)
    assert SHORT not in str(caught.value)


def test_several_secrets_may_be_given_comma_or_space_separated() -> None:
    assert parse_secrets(f"{SECRET}, {OLD_SECRET}") == [SECRET, OLD_SECRET]
    assert parse_secrets(f"{SECRET} {OLD_SECRET}") == [SECRET, OLD_SECRET]
    settings = Settings(cms_webhook_secret=f"{SECRET},{OLD_SECRET}")  # type: ignore[arg-type]
    assert settings.webhook_secrets == [SECRET, OLD_SECRET]


@pytest.mark.parametrize("url", ["http://[::1", "ftp://cms.example/hook", "/hooks", "http://"])
def test_malformed_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="CMS_WEBHOOK_URL"):
        Settings(cms_webhook_url=url, cms_webhook_secret=SECRET)  # type: ignore[arg-type]


def test_a_webhook_url_needs_a_secret() -> None:
    with pytest.raises(ValidationError, match="CMS_WEBHOOK_SECRET is not"):
        Settings(cms_webhook_url="https://cms.example/hooks")


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"CMS_WEBHOOK_URL": "http://[::1"}, "CMS_WEBHOOK_URL is not a valid URL"),
        ({"CMS_WEBHOOK_SECRET": SHORT}, "CMS_WEBHOOK_SECRET: the secret decodes to 23 bytes"),
        ({"WEBHOOK_RETRY_SCHEDULE_S": "5,soon"}, "WEBHOOK_RETRY_SCHEDULE_S must be"),
        ({"WEBHOOK_TIMEOUT_S": "0"}, "WEBHOOK_TIMEOUT_S: Input should be greater than 0"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_wrong_webhook_settings_in_one_line(
    migrated_database: str, command: str, variables: dict[str, str], expected: str
) -> None:
    env = {
        "DATABASE_URL": migrated_database,
        "VALOSSA_API_KEY": "cli-test-key",
        "CALLBACK_SIGNING_SECRET": "cli-test-secret",
        "CMS_WEBHOOK_URL": "https://cms.example/hooks",
        "CMS_WEBHOOK_SECRET": SECRET,
        "PATH": "/usr/bin:/bin",
        **variables,
    }
    result = _cli(command, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert SHORT not in result.stderr
    assert SECRET not in result.stderr
