"""Browser fixtures: a real headless Chromium (Debian's ``chromium``) driven by Playwright for
Python, against the real server started in-process on loopback with a database of the test's
own (the e2e fixtures). Without Chromium or Playwright the browser tests skip and say how to
install them, except under ``make test`` (which installs Chromium and sets
``PAPERDESK_REQUIRE_BROWSER``), where they fail; ``playwright install`` is never needed (the
system Chromium is used)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.config import Config
from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import running_server
from tests.integration.conftest import database, pg_server, template_database  # noqa: F401

CHROMIUM_ENV = "PAPERDESK_CHROMIUM"
REQUIRE_ENV = "PAPERDESK_REQUIRE_BROWSER"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
INSTALL_HINT = (
    "install them with `apt-get install chromium` (Debian's package, /usr/bin/chromium) and "
    "`pip install playwright` (or `pip install -e '.[test]'`); `playwright install` is not needed"
)


def find_chromium() -> str | None:
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium executable, or skip the test when Chromium or Playwright is missing."""
    missing = []
    path = find_chromium()
    if path is None:
        missing.append("Chromium")
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python")
    if missing:
        reason = f"browser tests need {' and '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get(REQUIRE_ENV):  # `make test` installs Chromium: missing is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    assert path is not None
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (test-artifacts/ is gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@asynccontextmanager
async def browser_on_server(
    chromium_path: str, database_url: str, config: Config, master: InstrumentMaster
) -> AsyncIterator[tuple[Any, str]]:
    """A real server on loopback (its own database) and headless Chromium: ``(browser, base
    URL)``; the browser is closed and the server stopped on leaving."""
    from playwright.async_api import async_playwright

    async with (
        running_server(database_url, config, master) as base,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=LAUNCH_ARGS, headless=True
        )
        try:
            yield browser, base
        finally:
            await browser.close()
