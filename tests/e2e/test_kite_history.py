"""Kite's historical data route driven by the unmodified ``kiteconnect`` client, against the
real server (its Kite listener) and PostgreSQL, over the seeded minute history.

Proves: ``historical_data`` parses every candle's ``+0530`` stamp to an aware datetime at its
IST start, minute candles have a consistent OHLC on the instrument's tick; ``day`` and
``15minute`` candles are the ones the native ``GET /api/market/candles`` answers for the same
range (a date ``to`` covering its whole day); ``oi=True`` adds the seventh column; a bad
interval, a range past the interval's limit, an unknown token and ``continuous`` raise
``InputException``. The setup prints how long a 60-day minute request takes (not asserted).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.domain.instruments import Instrument, InstrumentMaster
from gateway.keys import DB, ENGINE
from gateway.kite.listener import KITE_LISTENER
from gateway.kite.wire import IST
from persistence.candle_store import read_seeds
from tests.e2e.conftest import APPS, e2e_config, eventually, running_server
from tests.e2e.test_kite_connect import create_app, login_with_form
from tests.e2e.test_trading_journey import funded_user

RELIANCE = "NSE_EQ|INE002A01018"
CRUDE = "MCX_FO|472789"  # CRUDEOIL26DECFUT: MCX's long session, the most minutes a day
KITE_FORMAT = "%Y-%m-%d %H:%M:%S"


def consistent(record: dict[str, Any], tick_paise: int) -> bool:
    prices = [round(record[k] * 100) for k in ("open", "high", "low", "close")]
    open_, high, low, close = prices
    on_grid = all(p % tick_paise == 0 for p in prices)
    return on_grid and low <= min(open_, close) and max(open_, close) <= high


async def native(session: aiohttp.ClientSession, base: str, **query: str) -> list[tuple[Any, ...]]:
    """The native route's candles as (start, open, high, low, close, volume)."""
    async with session.get(f"{base}/api/market/candles?{urlencode(query)}") as response:
        body = await response.json()
        assert response.status == 200, body
    return [
        (datetime.fromisoformat(c["time"]), c["open"], c["high"], c["low"], c["close"], c["volume"])
        for c in body["candles"]
    ]


def as_tuples(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("date", "open", "high", "low", "close", "volume")
    return [tuple(r[k] for k in keys) for r in records]


async def timed_raw(
    session: aiohttp.ClientSession, kite_url: str, auth: str, token: int, start: datetime
) -> tuple[float, int, int]:
    """One 60-day minute request over HTTP: (seconds, candles, body bytes)."""
    end = start + timedelta(days=60)
    query = {"from": start.strftime(KITE_FORMAT), "to": end.strftime(KITE_FORMAT)}
    url = f"{kite_url}/instruments/historical/{token}/minute?{urlencode(query)}"
    began = time.perf_counter()
    async with session.get(url, headers={"Authorization": auth, "X-Kite-Version": "3"}) as answer:
        body = await answer.read()
        assert answer.status == 200, body[:300]
    elapsed = time.perf_counter() - began
    return elapsed, body.count(b"+0530"), len(body)


async def measure_sixty_days(
    session: aiohttp.ClientSession, kite_url: str, auth: str, crude: Instrument, now: datetime
) -> None:
    """Print the cost of a 60-day minute request: first (its history generated and stored on
    that read), then again (read from PostgreSQL only)."""
    start = now - timedelta(days=60)
    for label in ("first, history generated", "again, stored"):
        seconds, candles, size = await timed_raw(
            session, kite_url, auth, crude.instrument_token, start
        )
        print(
            f"\n60-day minute request, {crude.symbol} ({label}): {candles} candles,"
            f" {size / 1e6:.1f} MB in {seconds * 1000:.0f} ms"
        )


def check_with_the_client(
    kite: KiteConnect, reliance: Instrument, crude: Instrument, now: datetime
) -> list[dict[str, Any]]:
    """The minute candles, the errors; returns the day candles for the comparison."""
    token = reliance.instrument_token
    start = datetime(2026, 11, 30, 11, 7)  # a Monday, mid-session (IST)
    minutes = kite.historical_data(token, start, now, "minute")
    assert len(minutes) >= 375, len(minutes)  # at least a trading day
    stamps = [m["date"] for m in minutes]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    for m in minutes:
        assert m["date"].utcoffset() == timedelta(hours=5, minutes=30)
        assert m["date"].second == 0 and "oi" not in m
        assert consistent(m, reliance.tick_paise), m
    # The bucket holding `from` is the first; `to` is inclusive.
    assert minutes[0]["date"] == start.replace(tzinfo=IST)
    assert minutes[-1]["date"] <= now.replace(tzinfo=IST)
    session_minutes = {m["date"].strftime("%H:%M") for m in minutes}
    assert min(session_minutes) == "09:15" and max(session_minutes) == "15:29"

    with_oi = kite.historical_data(token, start, now, "60minute", oi=True)
    assert with_oi and all(r["oi"] == 0 for r in with_oi)
    assert {r["date"].strftime("%H:%M") for r in with_oi} <= {
        f"{hour:02d}:15" for hour in range(9, 16)
    }
    crude_hours = kite.historical_data(crude.instrument_token, start, now, "60minute")
    assert {r["date"].strftime("%H:%M") for r in crude_hours} <= {
        f"{hour:02d}:00" for hour in range(9, 24)
    }

    with pytest.raises(kite_errors.InputException, match="interval"):
        kite.historical_data(token, start, now, "2minute")
    with pytest.raises(kite_errors.InputException, match="interval exceeds max limit: 60 days"):
        kite.historical_data(token, now - timedelta(days=61), now, "minute")
    with pytest.raises(kite_errors.InputException, match="interval exceeds max limit: 200 days"):
        kite.historical_data(token, now - timedelta(days=201), now, "15minute")
    with pytest.raises(kite_errors.InputException, match="instrument_token"):
        kite.historical_data(999_999_999, start, now, "minute")
    with pytest.raises(kite_errors.InputException, match="from"):
        kite.historical_data(token, now, start, "minute")
    with pytest.raises(kite_errors.InputException, match="futures only"):
        kite.historical_data(token, start, now, "day", continuous=True)
    with pytest.raises(kite_errors.InputException, match="continuous"):
        kite.historical_data(crude.instrument_token, start, now, "day", continuous=True)
    return [
        dict(r) for r in kite.historical_data(token, date(2026, 11, 2), date(2026, 12, 3), "day")
    ]


def test_kite_historical_data_when_asked_by_the_client_then_the_candle_store_answers(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        config = e2e_config(
            history={"flush_interval_ms": 100, "seed_days": 30},
            kite={"historical_per_second": 100, "other_per_second": 100},
        )
        async with (
            running_server(database, config, master) as base,
            aiohttp.ClientSession() as session,
        ):
            app = APPS[base]
            kite_url = app[KITE_LISTENER].url
            assert kite_url is not None
            email = "history@paperdesk.test"
            user, account_id = await funded_user(session, base, email, 1_000)
            api_key, api_secret = await create_app(user, account_id)
            request_token = await login_with_form(kite_url, api_key, email)
            kite = KiteConnect(api_key=api_key, root=kite_url)
            granted = await asyncio.to_thread(
                kite.generate_session, request_token, api_secret=api_secret
            )
            kite.set_access_token(granted["access_token"])
            engine = app[ENGINE]
            reliance, crude = engine.master.get(RELIANCE), engine.master.get(CRUDE)
            assert reliance is not None and crude is not None

            async def seeded() -> bool:
                return len(await read_seeds(app[DB].pool, [RELIANCE, CRUDE])) == 2

            await eventually(seeded)
            now_utc = datetime.fromtimestamp(engine.clock.now_ms() / 1000, tz=UTC)
            now = now_utc.astimezone(IST).replace(tzinfo=None, microsecond=0)  # IST wall time
            auth = f"token {api_key}:{granted['access_token']}"
            await measure_sixty_days(session, kite_url, auth, crude, now)

            days = await asyncio.to_thread(check_with_the_client, kite, reliance, crude, now)
            # The same range on the native route: IST midnights, `to` exclusive.
            since, until = "2026-11-01T18:30:00Z", "2026-12-03T18:30:00Z"
            expected_days = await native(
                session, base, instrumentId=RELIANCE, interval="day", to=until, **{"from": since}
            )
            assert len(expected_days) >= 20 and as_tuples(days) == expected_days
            assert {d["date"].strftime("%H:%M") for d in days} == {"00:00"}
            quarters = await asyncio.to_thread(
                kite.historical_data,
                reliance.instrument_token,
                "2026-11-02 00:00:00",
                "2026-12-03 23:59:59",
                "15minute",
            )
            expected_quarters = await native(
                session,
                base,
                instrumentId=RELIANCE,
                interval="15minute",
                to=until,
                **{"from": since},
            )
            assert len(expected_quarters) >= 20 * 25 and as_tuples(quarters) == expected_quarters

    asyncio.run(main())
