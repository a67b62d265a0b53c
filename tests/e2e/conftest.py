"""End-to-end fixtures: the real server (create_app) on a loopback port, backed by a real
PostgreSQL database of the test's own (the integration suite's fixtures), driven over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from engine.config import Config, load_config, merge
from engine.domain.instruments import InstrumentMaster
from gateway.app import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV, create_app
from gateway.keys import METRICS_LISTENER
from gateway.listener import start_listener
from tests.integration.conftest import database, pg_server, template_database  # noqa: F401
from tests.support.clocks import ShiftedClock

ADMIN_EMAIL = "admin@paperdesk.test"
ADMIN_PASSWORD = "kestrel-ledger-42"  # passes the policy: not common, no "admin" in it
FAST: dict[str, Any] = {
    # Accounts open empty, so each test funds exactly what it checks; the default opening
    # balance has its own tests (tests/e2e/test_opening_balance.py).
    "accounts": {"opening_balance": "0"},
    "execution": {"market_fill_delay_ms": 0},
    # The sample master only (its December contracts): tests/e2e/test_generated_universe.py
    # trades the generated one.
    "market": {"jitter_interval_ms": 50, "universe": {"generate": False}},
    "metrics": {"port": 0},  # any free port: several suites may run on this machine at once
    "kite": {"port": 0},
    # The suites register and sign in many users from 127.0.0.1; tests/e2e/test_auth_limits.py
    # checks these limits at their defaults.
    "rate_limits": {
        "registrations_per_hour": 1_000_000,
        "registrations_global_per_minute": 1_000_000,
        "login_emails_per_client_per_15_minutes": 1_000_000,
    },
}


def e2e_config(**overrides: Any) -> Config:
    return load_config(**merge(FAST, overrides))


class Client:
    """A small JSON client for one user (bearer or cookie + CSRF)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.headers: dict[str, str] = {}

    async def call(
        self, method: str, path: str, body: Any = None, **kwargs: Any
    ) -> tuple[int, Any, Any]:
        async with self.session.request(
            method, self.base + path, json=body, headers=self.headers, **kwargs
        ) as response:
            text = await response.text()
            payload = None
            if text:
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = text
            return response.status, payload, response.headers

    async def login(self, email: str, password: str) -> dict[str, Any]:
        status, body, _ = await self.call(
            "POST", "/api/auth/login", {"email": email, "password": password}
        )
        assert status == 200, body
        self.headers["Authorization"] = f"Bearer {body['token']}"
        return dict(body)

    async def register(
        self, email: str, password: str = "password-123", name: str = "Trader"
    ) -> dict[str, Any]:
        status, body, _ = await self.call(
            "POST", "/api/auth/register", {"email": email, "password": password, "name": name}
        )
        assert status == 201, body
        await self.login(email, password)
        return dict(body)


@asynccontextmanager
async def running_server(dsn: str, config: Config, master: InstrumentMaster) -> AsyncIterator[str]:
    os.environ[ADMIN_EMAIL_ENV] = ADMIN_EMAIL
    os.environ[ADMIN_PASSWORD_ENV] = ADMIN_PASSWORD
    # The sample master's day, whatever day it is: its December contracts stay live.
    app = create_app(config, master, dsn=dsn, clock=ShiftedClock())
    runner = web.AppRunner(app)
    await runner.setup()
    site = await start_listener(runner, config, port=0)  # the CLI's listener, on a free port
    base = f"http://127.0.0.1:{site.port}"
    metrics_url = app[METRICS_LISTENER].url
    if metrics_url is not None:
        METRICS_URLS[base] = metrics_url
    APPS[base] = app
    try:
        yield base
    finally:
        APPS.pop(base, None)
        METRICS_URLS.pop(base, None)
        await runner.cleanup()
        os.environ.pop(ADMIN_EMAIL_ENV, None)
        os.environ.pop(ADMIN_PASSWORD_ENV, None)


# Where each running server (by base URL) serves Prometheus metrics: its own listener.
METRICS_URLS: dict[str, str] = {}
# Each running server's application (by base URL), for a test that must reach its engine (a
# partial fill the simulated market never makes).
APPS: dict[str, web.Application] = {}


async def scrape_metrics(session: aiohttp.ClientSession, base: str) -> str:
    """The Prometheus text of the server at ``base``, from its metrics listener."""
    async with session.get(METRICS_URLS[base]) as response:
        assert response.status == 200, await response.text()
        return await response.text()


Scenario = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


def run_scenario(
    dsn: str, master: InstrumentMaster, scenario: Scenario, config: Config | None = None
) -> None:
    async def main() -> None:
        async with (
            running_server(dsn, config or e2e_config(), master) as base,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
        ):
            await scenario(session, base)

    asyncio.run(main())


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10) -> None:
    """Poll ``check`` until it is true (fills arrive asynchronously through market ticks)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
