"""A fake Rupeezy Vortex quotes API: a real aiohttp server on loopback for the vortex tests.

It speaks the documented shape: ``GET /data/quotes?q=<id>&q=<id>&mode=ltp|ohlcv|full`` with
``Authorization: Bearer <token>`` and ``x-api-key``, answering
``{"status": "success", "data": {<id as sent>: {last_trade_price, ..., dpr_high, dpr_low}}}``
with rupee prices as JSON numbers and ``dpr_*`` in paise; ids it has no quote for are left out.
Tests script faults: a delay, queued or permanent error replies (429 with ``Retry-After``,
5xx, malformed JSON) and ids to omit. Every request is recorded with its arrival time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

from engine.actors.trading_engine import TradingEngine
from engine.config import load_config
from engine.domain.instruments import InstrumentMaster
from engine.market.pushed_quotes import PushedQuoteSource
from gateway.feeds.vortex_client import VortexClient
from gateway.feeds.vortex_poller import VortexPoller

API_KEY = "test-api-key"
ACCESS_TOKEN = "test-access-token"


@dataclass(frozen=True)
class Reply:
    """A scripted reply: status, headers and raw body."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    at_s: float
    ids: list[str]
    mode: str
    authorization: str
    api_key: str


def quote_payload(
    ltp: str, *, close: str | None = None, dpr_low: int | None = None, dpr_high: int | None = None
) -> dict[str, Any]:
    """A full-mode quote. Prices are rupee floats: ``json`` writes a float's shortest repr,
    so ``1234.29`` goes on the wire as the text ``1234.29``, as a real server sends it."""
    price = float(Decimal(ltp))
    payload: dict[str, Any] = {
        "last_trade_price": price,
        "open_price": price,
        "high_price": price,
        "low_price": price,
        "close_price": float(Decimal(close)) if close is not None else price,
        "volume": 1000,
        "depth": {
            "buy": [{"price": price, "quantity": 10, "orders": 1}] * 5,
            "sell": [{"price": price, "quantity": 10, "orders": 1}] * 5,
        },
    }
    if dpr_low is not None:
        payload["dpr_low"] = dpr_low
    if dpr_high is not None:
        payload["dpr_high"] = dpr_high
    return payload


class FakeVortex:
    """The fake server; ``await start()``, point ``base_url`` at ``url``, ``await stop()``."""

    def __init__(self) -> None:
        self.quotes: dict[str, dict[str, Any]] = {}
        self.omit: set[str] = set()
        self.delay_s = 0.0
        self.next_replies: deque[Reply] = deque()
        self.always: Reply | None = None
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        # 1,000 ids make a ~20 kB request line; the real API takes them, so must the fake.
        app = web.Application(handler_args={"max_line_size": 65536})
        app.router.add_get("/data/quotes", self._quotes)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def healthy(self) -> None:
        """Stop every scripted fault."""
        self.omit.clear()
        self.delay_s = 0.0
        self.next_replies.clear()
        self.always = None

    async def _quotes(self, request: web.Request) -> web.Response:
        ids = request.query.getall("q", [])
        self.seen.append(
            Seen(
                at_s=time.monotonic(),
                ids=list(ids),
                mode=request.query.get("mode", ""),
                authorization=request.headers.get("Authorization", ""),
                api_key=request.headers.get("x-api-key", ""),
            )
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        scripted = self.next_replies.popleft() if self.next_replies else self.always
        if scripted is not None:
            return web.Response(
                status=scripted.status,
                text=scripted.body,
                headers=scripted.headers,
                content_type="application/json",
            )
        if (
            request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}"
            or request.headers.get("x-api-key") != API_KEY
        ):
            return web.Response(status=401, text='{"status":"error","message":"unauthorised"}')
        if not ids or len(ids) > 1000:
            return web.Response(status=400, text='{"status":"error","message":"1..1000 ids"}')
        data = {i: self.quotes[i] for i in ids if i in self.quotes and i not in self.omit}
        return web.Response(
            text=json.dumps({"status": "success", "data": data}), content_type="application/json"
        )


def vortex_overrides(base_url: str, **vortex: Any) -> dict[str, Any]:
    """Config overrides for a fast test run against the fake: references applied on every
    tick, short timeouts and backoff, a loose rate limit unless a test sets its own."""
    settings: dict[str, Any] = {
        "base_url": base_url,
        "poll_interval_ms": 100,
        "requests_per_second_max": 50,
        "timeout_ms": 500,
        "retries_max": 2,
        "backoff_ms": 20,
        "stale_after_ms": 5000,
    }
    settings.update(vortex)
    return {"market": {"source": "vortex", "reference_interval_ms": 0, "vortex": settings}}


@dataclass
class Harness:
    fake: FakeVortex
    engine: TradingEngine
    source: PushedQuoteSource
    client: VortexClient
    poller: VortexPoller

    def index(self, key: str) -> int:
        index = self.engine.master.index_of(key)
        assert index is not None, key
        return index

    def reference(self, key: str) -> int:
        return int(self.engine.market.reference[self.index(key)])

    def band(self, key: str) -> tuple[int, int]:
        index = self.index(key)
        market = self.engine.market
        return int(market.circuit_low[index]), int(market.circuit_high[index])


@contextlib.asynccontextmanager
async def harness(master: InstrumentMaster, **vortex: Any) -> AsyncIterator[Harness]:
    """A started engine (ticked by hand) fed by a poller talking to a started fake server."""
    fake = FakeVortex()
    await fake.start()
    config = load_config(**vortex_overrides(fake.url, **vortex))
    source = PushedQuoteSource(
        stale_after_ms=config.market.vortex.stale_after_ms, circuits=config.circuits
    )
    engine = TradingEngine(config, master, source=source)
    engine.start(ticking=False)
    session = aiohttp.ClientSession()
    try:
        client = VortexClient(
            session, config.market.vortex, api_key=API_KEY, access_token=ACCESS_TOKEN
        )
        poller = VortexPoller(engine, source, client, config.market.vortex)
        yield Harness(fake, engine, source, client, poller)
    finally:
        await session.close()
        engine.stop()
        await fake.stop()
