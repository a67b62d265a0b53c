"""KiteTicker over a real socket: the hub (``gateway.kite.ticker``) on a loopback aiohttp server
in front of a real ``TradingEngine`` ticking the simulated market, and the unmodified
``kiteconnect.KiteTicker`` client in a process of its own (tests/support/kite_ticker_client.py).

It shows ticks in ``ltp``, ``quote`` and ``full`` modes with Kite's field sets and plausible
figures, index ticks, mode switching, unsubscribe stopping ticks, heartbeats, a bad access token
refused and reported by the client, the per-key connection cap, the per-connection instrument
cap and bad input answered with error messages, and an order update pushed by ``on_order``
arriving in the client's ``on_order_update``. Authentication is a small real function accepting
one pair: who issues tokens is not what these tests are about."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from engine.actors.trading_engine import TradingEngine
from engine.config import Config, load_config
from engine.domain.instruments import Instrument, InstrumentMaster
from gateway.kite.access import Authenticate, KiteAccess
from gateway.kite.ticker import TickerHub
from gateway.kite.tokens import KiteTokens
from tests.e2e.conftest import e2e_config
from tests.support.clocks import ShiftedClock

CLIENT_SCRIPT = Path(__file__).parents[1] / "support" / "kite_ticker_client.py"
API_KEY = "paperdesk-ticker-key"
ACCESS_TOKEN = "paperdesk-ticker-token"
ACCOUNT_ID = "ACC-TICKER-1"
WAIT_S = 20

LTP_FIELDS = {"tradable", "mode", "instrument_token", "last_price"}
QUOTE_FIELDS = LTP_FIELDS | {
    "last_traded_quantity",
    "average_traded_price",
    "volume_traded",
    "total_buy_quantity",
    "total_sell_quantity",
    "ohlc",
    "change",
}
FULL_FIELDS = QUOTE_FIELDS | {
    "last_trade_time",
    "oi",
    "oi_day_high",
    "oi_day_low",
    "exchange_timestamp",
    "depth",
}
INDEX_QUOTE_FIELDS = LTP_FIELDS | {"ohlc", "change"}
INDEX_FULL_FIELDS = INDEX_QUOTE_FIELDS | {"exchange_timestamp"}


def authenticator(expires_in_s: float = 3600) -> Authenticate:
    """Accept the one pair these tests use, its grant ending ``expires_in_s`` after each check."""

    async def authenticate(api_key: str, access_token: str) -> KiteAccess | None:
        if (api_key, access_token) != (API_KEY, ACCESS_TOKEN):
            return None
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_in_s)
        return KiteAccess("USER-1", ACCOUNT_ID, "APP-1", API_KEY, expires_at)

    return authenticate


@dataclass
class Server:
    root: str
    hub: TickerHub
    engine: TradingEngine
    clock: ShiftedClock


@asynccontextmanager
async def ticker_server(
    master: InstrumentMaster, config: Config, authenticate: Authenticate
) -> AsyncIterator[Server]:
    """The hub on a loopback port (``/`` and ``/ws``) over a started, ticking engine."""
    clock = ShiftedClock()  # the sample master's day: its contracts are live and priced
    engine = TradingEngine(config, master, clock=clock)
    hub = TickerHub(
        engine.market,
        engine.depth,
        engine.in_use,
        config.kite,
        tokens=KiteTokens(master, config.kite.index_tokens),
        authenticate=authenticate,
        send_queue_max=config.websocket.send_queue_max,
    )
    engine.tick_listeners.append(hub.on_tick)
    hub.attach(asyncio.get_running_loop())
    engine.start()
    app = web.Application()
    app.router.add_get("/", hub.handle)
    app.router.add_get("/ws", hub.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Server(f"ws://127.0.0.1:{port}", hub, engine, clock)
    finally:
        await hub.close_all()
        await runner.cleanup()
        engine.stop()


class TickerProcess:
    """One real ``KiteTicker`` client in a process of its own, driven over its stdin."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls, root: str, api_key: str = API_KEY, access_token: str = ACCESS_TOKEN
    ) -> TickerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLIENT_SCRIPT),
            root,
            api_key,
            access_token,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,  # one line holds a whole frame's ticks
        )
        return cls(process)

    async def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()

    async def next(
        self, event: str, check: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """The next line of ``event`` that passes ``check`` (earlier lines are skipped)."""

        async def read() -> dict[str, Any]:
            assert self.process.stdout is not None
            while True:
                line = await self.process.stdout.readline()
                assert line, f"the client exited before a {event!r} event"
                found: dict[str, Any] = json.loads(line)
                if found["event"] == event and check(found):
                    return found

        return await asyncio.wait_for(read(), WAIT_S)

    async def ticks(self, check: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """The ticks of the next frame whose ticks pass ``check``."""
        found = await self.next("ticks", lambda line: check(line["ticks"]))
        ticks: list[dict[str, Any]] = found["ticks"]
        return ticks

    async def stop(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(do="stop")
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@asynccontextmanager
async def connected(root: str) -> AsyncIterator[TickerProcess]:
    client = await TickerProcess.start(root)
    try:
        await client.next("connect")
        yield client
    finally:
        await client.stop()


def instrument(master: InstrumentMaster, ticker: str) -> Instrument:
    found = master.get(ticker)
    assert found is not None, ticker
    return found


def kite_token(master: InstrumentMaster, listed: Instrument) -> int:
    """The token Kite gives ``listed`` (its own numbers for indices, [kite.index_tokens])."""
    return KiteTokens(master, load_config().kite.index_tokens).token_of(listed)


def by_token(ticks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {tick["instrument_token"]: tick for tick in ticks}


def modes_of(token: int, mode: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda ticks: any(t["instrument_token"] == token and t["mode"] == mode for t in ticks)


def run(
    master: InstrumentMaster,
    scenario: Callable[[Server], Any],
    authenticate: Authenticate | None = None,
    **overrides: Any,
) -> None:
    async def main() -> None:
        config = e2e_config(**overrides)
        async with ticker_server(master, config, authenticate or authenticator()) as server:
            await scenario(server)

    asyncio.run(main())


def assert_plausible_quote(tick: dict[str, Any], listed: Instrument) -> None:
    reference = listed.reference_price_paise / 100
    assert abs(tick["last_price"] - reference) < reference * 0.05
    assert tick["ohlc"]["close"] == reference  # the previous close: the master's reference
    assert 0 < tick["ohlc"]["low"] <= tick["ohlc"]["high"]
    assert tick["ohlc"]["low"] <= tick["last_price"] <= tick["ohlc"]["high"]
    assert tick["change"] == (tick["last_price"] - reference) * 100 / reference
    if listed.is_index:
        return
    assert tick["total_buy_quantity"] > 0
    assert tick["total_sell_quantity"] > 0
    assert tick["volume_traded"] == 0  # nobody traded it here
    assert (tick["last_traded_quantity"], tick["average_traded_price"]) == (0, 0)


def near_engine_time(text: str, server: Server) -> bool:
    """Whether a client-side timestamp (naive local time) is the engine's clock now."""
    now = datetime.fromtimestamp(server.clock.now_ms() / 1000)
    return abs((datetime.fromisoformat(text) - now).total_seconds()) < 30


def test_subscribe_then_quote_ticks_and_each_mode_switch_changes_the_packets(
    master: InstrumentMaster,
) -> None:
    reliance = instrument(master, "NSE:RELIANCE")
    nifty = instrument(master, "NSE:NIFTY 50")
    future = instrument(master, "NFO:NIFTY26DECFUT")
    tokens = [reliance.instrument_token, kite_token(master, nifty), future.instrument_token]

    async def scenario(server: Server) -> None:
        async with connected(server.root) as client:
            await client.send(do="subscribe", tokens=tokens)
            ticks = await client.ticks(lambda t: set(by_token(t)) == set(tokens))
            quotes = by_token(ticks)
            assert {t["mode"] for t in ticks} == {"quote"}  # Kite's default mode
            for listed in (reliance, future):
                tick = quotes[listed.instrument_token]
                assert set(tick) == QUOTE_FIELDS
                assert tick["tradable"] is True
                assert_plausible_quote(tick, listed)
            index_tick = quotes[kite_token(master, nifty)]
            assert set(index_tick) == INDEX_QUOTE_FIELDS
            assert index_tick["tradable"] is False
            assert_plausible_quote(index_tick, nifty)

            await client.send(do="mode", mode="full", tokens=tokens[:2])
            # The switched tokens' latest ticks come at once; then every tick carries all three.
            switched = by_token(await client.ticks(modes_of(reliance.instrument_token, "full")))
            assert set(switched) == set(tokens[:2])
            full = by_token(await client.ticks(lambda t: len(t) == 3))
            tick = full[reliance.instrument_token]
            assert set(tick) == FULL_FIELDS
            assert_plausible_quote(tick, reliance)
            assert near_engine_time(tick["exchange_timestamp"], server)
            assert near_engine_time(tick["last_trade_time"], server)
            assert (tick["oi"], tick["oi_day_high"], tick["oi_day_low"]) == (0, 0, 0)
            buy, sell = tick["depth"]["buy"], tick["depth"]["sell"]
            assert len(buy) == len(sell) == 5
            assert all(level["quantity"] > 0 and level["orders"] > 0 for level in buy + sell)
            buy_prices = [level["price"] for level in buy]
            sell_prices = [level["price"] for level in sell]
            assert buy_prices == sorted(buy_prices, reverse=True)
            assert sell_prices == sorted(sell_prices)
            assert buy_prices[0] < sell_prices[0]
            assert buy_prices[0] <= tick["last_price"] <= sell_prices[0]
            assert tick["total_buy_quantity"] == sum(level["quantity"] for level in buy)
            assert tick["total_sell_quantity"] == sum(level["quantity"] for level in sell)
            index_full = full[kite_token(master, nifty)]
            assert set(index_full) == INDEX_FULL_FIELDS
            assert index_full["mode"] == "full"
            assert near_engine_time(index_full["exchange_timestamp"], server)
            assert full[future.instrument_token]["mode"] == "quote"  # its mode was not set

            await client.send(do="mode", mode="ltp", tokens=tokens)
            ltp = await client.ticks(lambda t: {x["mode"] for x in t} == {"ltp"})
            assert {t["instrument_token"] for t in ltp} == set(tokens)
            assert all(set(t) == LTP_FIELDS for t in ltp)
            assert by_token(ltp)[kite_token(master, nifty)]["tradable"] is False

            await client.send(do="mode", mode="quote", tokens=tokens[:1])
            back = by_token(await client.ticks(modes_of(reliance.instrument_token, "quote")))
            assert set(back[reliance.instrument_token]) == QUOTE_FIELDS

    run(master, scenario)


def test_unsubscribe_then_its_ticks_stop_and_with_nothing_left_heartbeats(
    master: InstrumentMaster,
) -> None:
    reliance = instrument(master, "NSE:RELIANCE").instrument_token
    tcs = instrument(master, "NSE:TCS").instrument_token

    async def scenario(server: Server) -> None:
        async with connected(server.root + "/ws") as client:  # a path works as the root does
            await client.send(do="subscribe", tokens=[reliance, tcs])
            await client.ticks(lambda t: set(by_token(t)) == {reliance, tcs})
            await client.send(do="unsubscribe", tokens=[reliance])
            await client.ticks(lambda t: set(by_token(t)) == {tcs})
            for _ in range(10):  # ticks come every 50 ms: none carries the dropped token
                assert set(by_token(await client.ticks(lambda _: True))) == {tcs}
            assert server.engine.in_use_indices() >= {master.index_of("NSE:TCS")}

            await client.send(do="unsubscribe", tokens=[tcs])
            await client.next("heartbeat")  # nothing to send for ticker_heartbeat_s
            await client.next("heartbeat")

    run(master, scenario, kite={"ticker_heartbeat_s": 0.3})


def test_unknown_access_token_then_refused_403_and_reported_by_the_client(
    master: InstrumentMaster,
) -> None:
    async def scenario(server: Server) -> None:
        client = await TickerProcess.start(server.root, access_token="not-a-token")
        try:
            error = await client.next("error")
            assert "403" in error["reason"], error
            closed = await client.next("close")
            assert closed["code"] == 1006  # the handshake failed: no websocket was opened
            assert not server.hub.clients
        finally:
            await client.stop()

    run(master, scenario)


def test_connections_per_key_past_the_cap_then_refused_429_until_one_closes(
    master: InstrumentMaster,
) -> None:
    async def scenario(server: Server) -> None:
        async with (
            connected(server.root) as first,
            connected(server.root),
            connected(server.root),
        ):
            fourth = await TickerProcess.start(server.root)
            try:
                error = await fourth.next("error")
                assert "429" in error["reason"], error
            finally:
                await fourth.stop()
            assert len(server.hub.clients) == 3
            await first.stop()
            for _ in range(100):  # the server frees the slot a moment after the client left
                if len(server.hub.clients) < 3:
                    break
                await asyncio.sleep(0.05)
            async with connected(server.root):
                assert len(server.hub.clients) == 3

    run(master, scenario)


def test_bad_input_then_error_messages_and_the_connection_serves_on(
    master: InstrumentMaster,
) -> None:
    reliance = instrument(master, "NSE:RELIANCE").instrument_token
    tcs = instrument(master, "NSE:TCS").instrument_token
    infy = instrument(master, "NSE:INFY").instrument_token

    async def scenario(server: Server) -> None:
        async with connected(server.root) as client:
            await client.send(do="send", text="{not json")
            assert "not JSON" in (await client.next("error"))["reason"]
            await client.send(do="send", text='{"a": "mode", "v": ["deep", [1]]}')
            assert "Invalid mode" in (await client.next("error"))["reason"]
            await client.send(do="subscribe", tokens=[reliance, tcs, infy, 1])
            error = await client.next("error")
            assert (
                f"At most 2 instruments per connection; not subscribed: {infy}" in error["reason"]
            )
            assert "Unknown instrument tokens, not subscribed: 1." in error["reason"]
            for _ in range(5):  # the excess ignored, the first two served
                ticks = await client.ticks(lambda _: True)
                assert set(by_token(ticks)) <= {reliance, tcs}
            await client.ticks(lambda t: set(by_token(t)) == {reliance, tcs})

    run(master, scenario, kite={"ticker_instruments_max": 2})


def test_on_order_then_the_accounts_clients_get_it_in_on_order_update(
    master: InstrumentMaster,
) -> None:
    update = {
        "order_id": "151220000000000",
        "status": "COMPLETE",
        "tradingsymbol": "RELIANCE",
        "exchange": "NSE",
        "quantity": 1,
        "filled_quantity": 1,
        "average_price": 1542.8,
        "order_timestamp": "2026-12-04 10:00:01",
    }

    async def scenario(server: Server) -> None:
        async with connected(server.root) as client, connected(server.root) as second:
            server.hub.on_order("ACC-SOMEONE-ELSE", update | {"order_id": "elsewhere"})
            server.hub.on_order(ACCOUNT_ID, update)
            for watcher in (client, second):
                received = await watcher.next("order")
                assert received["data"] == update  # the other account's update never came
            # From another thread, as an engine callback would call it.
            later = update | {"order_id": "151220000000001", "status": "OPEN"}
            await asyncio.to_thread(server.hub.on_order, ACCOUNT_ID, later)
            assert (await client.next("order"))["data"] == later

    run(master, scenario)


def test_client_that_stops_reading_then_dropped_when_its_send_queue_fills(
    master: InstrumentMaster,
) -> None:
    tokens = [listed.instrument_token for listed in master if not listed.is_index]

    async def scenario(server: Server) -> None:
        url = f"{server.root}/?api_key={API_KEY}&access_token={ACCESS_TOKEN}"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.send_json({"a": "subscribe", "v": tokens})
            await ws.send_json({"a": "mode", "v": ["full", tokens]})
            # Never read: aiohttp stops reading past its buffer, the socket's buffers fill,
            # the server's sends wait, and its queue of ``send_queue_max`` frames fills.
            for _ in range(WAIT_S * 10):
                if server.hub.dropped_total:
                    break
                await asyncio.sleep(0.1)
            assert server.hub.dropped_total == 1
            assert not server.hub.clients
            assert not server.engine.in_use_indices() & {
                master.index_of(listed.instrument_id) for listed in master
            }  # its subscriptions released

    # Ticks every 10 ms fill the socket buffers sooner.
    run(master, scenario, websocket={"send_queue_max": 4}, market={"jitter_interval_ms": 10})


def test_access_token_expiring_then_the_client_is_told_and_closed(
    master: InstrumentMaster,
) -> None:
    async def scenario(server: Server) -> None:
        async with connected(server.root) as client:
            error = await client.next("error")
            assert error["reason"] == "The access token expired; log in again."
            await client.next("close")

    run(master, scenario, authenticator(expires_in_s=1))
