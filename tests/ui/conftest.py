"""Fixtures of the operator page tests: the API (with the emulator as Valossa), signed-in
clients, and Debian's Chromium driven by Playwright when it is installed."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.analyses.models import Analysis
from service.db import SessionMaker
from service.main import create_app
from service.process.serving import serve_in_background
from service.settings import Settings
from tests.conftest import REPO_ROOT
from tests.support.api import CMS_TOKEN, api_client
from tests.support.emulator import EmulatorHandle, running_emulator, settings_for

#: Debian's Chromium (`apt-get install chromium`); CHROMIUM_PATH points elsewhere.
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Screenshots of every page the browser tests visit (gitignored).
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[EmulatorHandle]:
    """The emulator, its job clock slowed so that jobs stay where tests put them."""
    async with running_emulator(tmp_path / "emulator", speed=0.001) as handle:
        yield handle


@pytest.fixture
def ui_settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Test settings whose Valossa is the emulator."""
    return settings_for(settings, emulator)


async def status_of(sessionmaker: SessionMaker, analysis_id: uuid.UUID) -> str:
    """An analysis's status as the database has it now."""
    async with sessionmaker() as session:
        row = await session.get(Analysis, analysis_id)
        assert row is not None
        return row.status


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF-protected form"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str = CMS_TOKEN) -> httpx.Response:
    """Sign in through the form, as a browser would; the answer to the POST."""
    form = await client.get("/ui/sign-in")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
    assert nonce is not None
    return await client.post(
        "/ui/sign-in", data={"token": token, "nonce": nonce.group(1), "next": "/ui/analyses"}
    )


@pytest.fixture
async def ui(ui_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in operator's client of the page (in-process), cookies kept."""
    async with api_client(ui_settings) as client:
        response = await sign_in(client)
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture
async def served_ui(ui_settings: Settings) -> AsyncIterator[str]:
    """The app on a loopback port, for the browser; its URL."""
    async with serve_in_background(create_app(ui_settings)) as server:
        yield server.url


def chromium_found() -> bool:
    """Whether the Chromium the browser tests drive is installed."""
    return CHROMIUM.is_file()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium under Playwright; the tests that need it skip when it is missing."""
    if not chromium_found():
        reason = (
            f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set CHROMIUM_PATH) "
            "to run the browser tests"
        )
        if os.environ.get("REQUIRE_BROWSER_TESTS"):
            pytest.fail(reason)  # CI (.ci/run) installs it: a missing browser is a failure there
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def screenshot(page: Any, name: str) -> None:
    """Save the whole page as test-artifacts/ui/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def signed_in(browser: Any, url: str, start: str = "/ui/analyses") -> Any:
    """A browser page that signed in through the form and landed on `start`."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(15_000)

    async def accept(dialog: Any) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await page.goto(url + start)
    assert "/ui/sign-in" in page.url
    await page.fill("#token", "test-token")
    await page.click("form[action='/ui/sign-in'] button[type=submit]")
    await page.wait_for_url(f"**{start}")
    return page
