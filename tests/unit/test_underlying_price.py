"""A derivative's underlying price for margin (``MarketData.underlying_price``): its nearest
future not yet expired, else its spot, never an expired contract's price."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from engine.config import Config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import InstrumentMaster
from engine.market.market_data import MarketData, MarketSnapshot

IST = timezone(timedelta(hours=5, minutes=30))


def market_at(config: Config, master: InstrumentMaster, at: datetime) -> MarketData:
    """Market data whose snapshot at ``at`` prices instrument ``i`` at ``1000 + i`` paise."""
    data = MarketData(
        master,
        config.market,
        config.circuits,
        20,
        ExchangeCalendar.from_config(config.sessions),
    )
    ltp = np.arange(len(master), dtype=np.int64) + 1_000
    data.snapshot = MarketSnapshot(
        seq=1,
        at_ms=int(at.timestamp() * 1000),
        ltp=ltp,
        bid=ltp,
        ask=ltp,
        low=data.circuit_low,
        high=data.circuit_high,
    )
    return data


def test_underlying_price_when_future_live_then_its_price_after_expiry_the_spots(
    config: Config, master: InstrumentMaster
) -> None:
    option = master.get("NFO:NIFTY26DEC26000CE")
    future = master.index_of("NFO:NIFTY26DECFUT")
    spot = master.index_of("NSE:NIFTY 50")
    assert option is not None and future is not None and spot is not None
    before = market_at(config, master, datetime(2026, 12, 29, 15, 39, tzinfo=IST))
    assert before.underlying_price(option) == 1_000 + future
    after = market_at(config, master, datetime(2026, 12, 29, 15, 40, tzinfo=IST))
    assert after.underlying_price(option) == 1_000 + spot
    crude = master.get("MCX:CRUDEOIL26DECFUT")
    assert crude is not None
    gone = market_at(config, master, datetime(2026, 12, 19, 0, 0, tzinfo=IST))
    crude_spot = master.index_of("MCX:CRUDEOIL")
    assert crude_spot is not None
    assert gone.underlying_price(crude) == 1_000 + crude_spot  # expired: the spot
