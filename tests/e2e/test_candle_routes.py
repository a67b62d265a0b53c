"""``GET /api/market/candles`` on the real server with PostgreSQL behind it (docs/API.md
"Candles"): the simulated market's first start seeds each instrument's history, which the first
read generates and stores, ending at the price the market started from and joined by the
minutes recorded since; 60-minute candles start at the session open in IST; what the query gets
wrong answers 400 naming the field, an unknown instrument 404, a range past the interval's
limit 400. Every answer matches its shape in ``gateway.replies``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec

from engine.domain.instruments import InstrumentMaster
from gateway import replies
from gateway.keys import CANDLES, DB
from persistence.candle_store import read_seeds
from tests.e2e.conftest import APPS, e2e_config, eventually, run_scenario

RELIANCE = "NSE_EQ|INE002A01018"


async def get(session: aiohttp.ClientSession, base: str, **query: str) -> tuple[int, Any]:
    async with session.get(f"{base}/api/market/candles?{urlencode(query)}") as response:
        return response.status, await response.json()


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def test_candles_when_first_start_then_seeded_history_joins_recorded_minutes(
    database: str, master: InstrumentMaster
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        app = APPS[base]
        pool = app[DB].pool

        async def seeded() -> bool:
            return bool(await read_seeds(pool, [RELIANCE]))

        await eventually(seeded)
        seed = (await read_seeds(pool, [RELIANCE]))[RELIANCE]
        now = datetime.fromtimestamp(app[CANDLES].engine.clock.now_ms() / 1000, tz=UTC)
        status, body = await get(
            session, base, instrumentId="NSE:RELIANCE", **{"from": iso(now - timedelta(days=5))}
        )
        assert status == 200, body
        msgspec.convert(body, replies.Candles)
        assert body["instrumentId"] == RELIANCE and body["interval"] == "minute"
        candles = body["candles"]
        first_live = datetime.fromtimestamp(seed.first_minute_ms / 1000, tz=UTC)
        history = [c for c in candles if datetime.fromisoformat(c["time"]) < first_live]
        live = [c for c in candles if datetime.fromisoformat(c["time"]) >= first_live]
        assert len(history) >= 375  # at least a trading day of seeded minutes
        assert history[-1]["close"] * 100 == seed.price_paise  # joined without a jump
        assert live, "the minute in progress is read from memory"
        for c in candles:
            assert c["high"] >= max(c["open"], c["close"]) and c["low"] <= min(
                c["open"], c["close"]
            )
            assert "oi" not in c
        # Asked again: the same history, not generated a second time.
        again = await get(
            session, base, instrumentId=RELIANCE, **{"from": iso(now - timedelta(days=5))}
        )
        assert again[1]["candles"][: len(history)] == history

        status, hourly = await get(
            session,
            base,
            instrumentId=RELIANCE,
            interval="60minute",
            oi="true",
            **{"from": iso(now - timedelta(days=5)), "to": iso(first_live)},
        )
        assert status == 200, hourly
        msgspec.convert(hourly, replies.Candles)
        ist = timedelta(minutes=330)
        starts = {
            (datetime.fromisoformat(c["time"]) + ist).strftime("%H:%M") for c in hourly["candles"]
        }
        assert starts <= {"09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15"}
        assert all(c["oi"] == 0 for c in hourly["candles"])
        status, daily = await get(
            session,
            base,
            instrumentId=RELIANCE,
            interval="day",
            **{"from": iso(now - timedelta(days=5))},
        )
        assert status == 200 and daily["candles"]
        assert {
            (datetime.fromisoformat(c["time"]) + ist).strftime("%H:%M") for c in daily["candles"]
        } == {"00:00"}

    config = e2e_config(history={"flush_interval_ms": 100, "seed_days": 3})
    run_scenario(database, master, scenario, config)


def test_candles_when_query_wrong_then_400_naming_the_field_or_404(
    database: str, master: InstrumentMaster
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        start = "2026-12-01T09:15:00Z"
        cases = [
            ({"instrumentId": RELIANCE}, "$.from"),
            ({"instrumentId": RELIANCE, "from": start, "interval": "2minute"}, "$.interval"),
            ({"instrumentId": RELIANCE, "from": "yesterday"}, "$.from"),
            ({"instrumentId": RELIANCE, "from": "2026-12-01T09:15:00"}, "$.from"),  # no zone
            ({"from": start}, "$.instrumentId"),
            ({"instrumentId": RELIANCE, "from": start, "to": "2026-11-30T09:15:00Z"}, "$.to"),
            ({"instrumentId": RELIANCE, "from": start, "colour": "red"}, "$.colour"),
            # 61 days of minutes: past Kite's 60.
            (
                {
                    "instrumentId": RELIANCE,
                    "from": "2026-10-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                },
                "$.from",
            ),
        ]
        for query, path in cases:
            status, body = await get(session, base, **query)
            assert status == 400, (query, body)
            assert body["error"]["details"][0]["path"] == path, (query, body)
        status, body = await get(session, base, instrumentId="NSE:NOPE", **{"from": start})
        assert status == 404 and body["error"]["code"] == "NOT_FOUND"
        # 61 days are fine for 5-minute candles (100 days).
        status, _ = await get(
            session,
            base,
            instrumentId=RELIANCE,
            interval="5minute",
            **{"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
        )
        assert status == 200

    run_scenario(database, master, scenario, e2e_config(history={"seed_days": 0}))


def test_candles_when_read_before_the_first_flush_then_history_all_the_same(
    database: str, master: InstrumentMaster
) -> None:
    """A dashboard opens at once: its first read comes before the recorder's first flush has
    stored the seeds. It gets the seeded history, and so does every later read."""

    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        app = APPS[base]
        clock = app[CANDLES].engine.clock

        async def priced() -> bool:
            async with session.get(f"{base}/api/quotes?q={RELIANCE}&mode=ltp") as response:
                return bool((await response.json())["data"])

        await eventually(priced)
        now = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC)
        for _ in range(2):
            status, body = await get(
                session, base, instrumentId=RELIANCE, **{"from": iso(now - timedelta(days=1))}
            )
            assert status == 200, body
            assert len(body["candles"]) >= 375  # a trading day of seeded minutes, and more

    run_scenario(database, master, scenario, e2e_config(history={"flush_interval_ms": 60_000}))
