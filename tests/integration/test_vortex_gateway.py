"""A real gateway with ``[market] source = "vortex"`` polling a fake Vortex server on loopback.

Proves that ``create_app`` wires the poller: live quotes reach ``/api/quotes``; when the server
starts failing, ``/api/health/detailed`` (read as an admin) reports ``checks.marketData`` degraded
with the error and the last refresh time while the market keeps ticking, and Prometheus (on the
metrics listener) shows the stale gauge and
the failures by reason; once the server recovers, both report healthy again by themselves. It
also proves the server refuses to start without credentials. The gateway runs on a real
PostgreSQL database of its own (the integration suite's ``database`` fixture).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from engine.config import load_config
from engine.domain.instruments import InstrumentMaster
from gateway.app import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV, create_app
from gateway.keys import METRICS_LISTENER
from tests.support.live_server import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.vortex_fake import (
    ACCESS_TOKEN,
    API_KEY,
    FakeVortex,
    Reply,
    quote_payload,
    vortex_overrides,
)

pytestmark = pytest.mark.timeout(30)


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, name
    return float(match.group(1))


def test_health_when_feed_fails_then_degraded_and_recovers_by_itself(
    master: InstrumentMaster, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VORTEX_API_KEY", API_KEY)
    monkeypatch.setenv("VORTEX_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv(ADMIN_EMAIL_ENV, ADMIN_EMAIL)  # detailed health is for admins
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)

    async def main() -> None:
        fake = FakeVortex()
        await fake.start()
        fake.quotes["NSE_EQ-2885"] = quote_payload(
            "1600.30", close="1542.80", dpr_low=123430, dpr_high=185130
        )
        overrides = vortex_overrides(fake.url, stale_after_ms=2000, retries_max=1)
        overrides["market"]["jitter_interval_ms"] = 50
        overrides["metrics"] = {"port": 0}  # any free port
        overrides["kite"] = {"port": 0}
        overrides["rate_limits"] = {"general_per_minute": 1_000_000}  # health is polled
        app = create_app(load_config(**overrides), master, dsn=database)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
                async with session.post(f"{base}/api/auth/login", json=login) as response:
                    assert response.status == 200  # the session cookie signs the reads below
                metrics_url = app[METRICS_LISTENER].url
                assert metrics_url is not None
                await scenario(session, base, fake, metrics_url)
        finally:
            await runner.cleanup()
            await fake.stop()

    async def scenario(
        session: aiohttp.ClientSession, base: str, fake: FakeVortex, metrics_url: str
    ) -> None:
        async def market_check() -> dict[str, Any]:
            body = await get_json(session, f"{base}/api/health/detailed")
            check: dict[str, Any] = body["checks"]["marketData"]
            check["overall"] = body["status"]
            return check

        async def healthy() -> bool:
            return (await market_check())["status"] == "healthy"

        async def converged() -> bool:
            body = await get_json(session, f"{base}/api/quotes?q=NSE:RELIANCE")
            return abs(body["data"]["NSE:RELIANCE"]["ltp"] - 1600.30) < 8

        await eventually(healthy)
        check = await market_check()
        assert check["source"] == "vortex"
        assert check["stale"] is False
        assert check["error"] is None
        assert check["lastRefreshAt"].endswith("Z")
        await eventually(converged)

        fake.always = Reply(503, '{"status":"error"}')

        async def degraded() -> bool:
            return (await market_check())["status"] == "degraded"

        await eventually(degraded)
        check = await market_check()
        assert check["overall"] == "degraded"
        assert check["stale"] is True
        assert (check["errorReason"], check["error"]) == ("server_error", "HTTP 503")
        assert check["lastRefreshAt"] is not None  # the last good round is still reported
        ticks = (await get_json(session, f"{base}/api/health/detailed"))["performance"]
        await asyncio.sleep(0.3)
        later = (await get_json(session, f"{base}/api/health/detailed"))["performance"]
        assert later["ticksTotal"] > ticks["ticksTotal"]  # the market keeps running
        body = await get_json(session, f"{base}/api/quotes?q=NSE:RELIANCE")
        assert abs(body["data"]["NSE:RELIANCE"]["ltp"] - 1600.30) < 8  # on the last reference
        async with session.get(metrics_url) as response:
            text = await response.text()
        assert metric(text, "paperdesk_market_data_stale") == 1
        assert metric(text, 'paperdesk_market_data_poll_failures_total{reason="server_error"}') >= 1

        fake.healthy()
        await eventually(healthy)
        check = await market_check()
        assert (check["stale"], check["error"], check["overall"]) == (False, None, "healthy")
        async with session.get(metrics_url) as response:
            text = await response.text()
        assert metric(text, "paperdesk_market_data_stale") == 0
        assert metric(text, "paperdesk_market_data_polls_total") >= 3

    asyncio.run(main())


def test_create_app_when_vortex_credentials_missing_then_refuses(
    master: InstrumentMaster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VORTEX_API_KEY", raising=False)
    monkeypatch.setenv("VORTEX_ACCESS_TOKEN", ACCESS_TOKEN)
    config = load_config(**vortex_overrides("http://127.0.0.1:9"))
    with pytest.raises(RuntimeError, match="VORTEX_API_KEY"):
        create_app(config, master, dsn="postgresql://127.0.0.1:9/unused")
