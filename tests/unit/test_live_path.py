"""Prices between a live feed's polls (``engine.market.live_path``): every price converges on
its polled quote without noise of its own, and options follow their underlying by the delta and
gamma of the volatility implied by their polled price, landing on their own next quote."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config import Config, load_config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import InstrumentMaster
from engine.market import black76_reference
from engine.market.live_path import LivePath
from engine.market.market_data import MarketData, MarketSnapshot
from engine.market.market_layout import CALENDAR_YEAR_MS

NOW_MS = 1_796_269_500_000  # 2026-12-03 09:15 IST
TICK_MS = 250


class Feed:
    """The market data and live path of the default master, ticked by hand."""

    def __init__(self, config: Config, master: InstrumentMaster) -> None:
        self.config, self.master = config, master
        self.calendar = ExchangeCalendar.from_config(config.sessions)
        self.data = MarketData(master, config.market, config.circuits, 20, self.calendar)
        self.path = LivePath(master, config.market, self.calendar)
        self.now = NOW_MS

    def index(self, ticker: str) -> int:
        index = self.master.index_of(ticker)
        assert index is not None
        return index

    def tick(self) -> MarketSnapshot:
        previous = self.data.snapshot
        ltp, bid, ask, options = self.path.prices(self.data, self.now, previous)
        self.data.snapshot = MarketSnapshot(
            seq=previous.seq + 1,
            at_ms=self.now,
            ltp=ltp,
            bid=bid,
            ask=ask,
            low=self.data.circuit_low,
            high=self.data.circuit_high,
            options=options,
        )
        self.now += TICK_MS
        return self.data.snapshot

    def years(self, ticker: str) -> float:
        instrument = self.master.at(self.index(ticker))
        expiry = self.calendar.expiry_instant_ms(instrument)
        return (expiry - self.now) / CALENDAR_YEAR_MS


@pytest.fixture
def feed(master: InstrumentMaster) -> Feed:
    return Feed(load_config(market={"jitter_convergence": "0.1"}), master)


def test_prices_when_polled_quote_moves_then_converge_onto_it_without_noise(feed: Feed) -> None:
    stock = feed.index("NSE:RELIANCE")
    feed.tick()
    assert feed.data.snapshot.ltp[stock] == feed.data.reference[stock]
    feed.data.reference[stock] += 1_000  # a poll ₹10 higher (100 ticks of 10 paise)
    seen = [int(feed.tick().ltp[stock]) for _ in range(80)]
    assert seen == sorted(seen)  # straight toward the quote, never back
    assert seen[-1] == feed.data.reference[stock]


def test_option_when_future_converges_after_a_poll_then_follows_by_delta_and_gamma(
    feed: Feed,
) -> None:
    future, call = feed.index("NFO:NIFTY26DECFUT"), feed.index("NFO:NIFTY26DEC26000CE")
    snapshot = feed.tick()
    assert snapshot.options is not None
    polled_call, polled_future = int(feed.data.reference[call]), int(feed.data.reference[future])
    assert snapshot.ltp[call] == polled_call  # nothing moved yet
    iv, rate = snapshot.options.iv[call], feed.config.market.options.rate
    years = feed.years("NFO:NIFTY26DEC26000CE")
    implied = black76_reference.price_option(polled_future, 2_600_000, years, iv, True, rate)
    assert implied.price == pytest.approx(polled_call, abs=0.01)  # the IV reprices the quote
    # A poll: the future ₹200 higher, the call repriced there at the same volatility.
    new_future = polled_future + 20_000
    repriced = black76_reference.price_option(new_future, 2_600_000, years, iv, True, rate).price
    new_call = round(repriced / 5) * 5
    feed.data.reference[future], feed.data.reference[call] = new_future, new_call
    moves = []
    for _ in range(120):  # a tenth of the gap a tick: 2,000 ticks of the future in ~90
        snapshot = feed.tick()
        assert snapshot.options is not None
        delta, gamma = snapshot.options.delta[call], snapshot.options.gamma[call]
        gap = float(snapshot.ltp[future] - new_future)  # the future still converging
        expected = new_call + delta * gap + 0.5 * gamma * gap * gap
        assert abs(snapshot.ltp[call] - expected) <= 2.5  # rounded to its 5-paise tick
        moves.append(int(snapshot.ltp[call]))
    assert moves[0] < new_call - 50 * 100 * 0.4  # at first it lags with the future, by delta
    assert moves == sorted(moves)
    assert moves[-1] == new_call  # and lands on its own quote with it


def test_option_when_its_own_quote_polled_then_converges_onto_it(feed: Feed) -> None:
    call = feed.index("NFO:NIFTY26DEC26000CE")
    feed.tick()
    feed.data.reference[call] += 500  # the option re-polled ₹5 higher, the future unchanged
    for _ in range(3):
        snapshot = feed.tick()
    assert snapshot.ltp[call] == feed.data.reference[call]
    assert snapshot.options is not None
    assert not math.isnan(snapshot.options.iv[call])


def test_option_when_price_implies_no_volatility_then_just_converges(feed: Feed) -> None:
    call, future = feed.index("NFO:NIFTY26DEC25500CE"), feed.index("NFO:NIFTY26DECFUT")
    feed.data.reference[call] = 5  # five paise for a deep ITM call: below intrinsic
    snapshot = feed.tick()
    assert snapshot.options is not None
    assert math.isnan(snapshot.options.iv[call])
    feed.data.reference[future] += 20_000
    for _ in range(3):
        snapshot = feed.tick()
    assert snapshot.ltp[call] == 5
    assert np.isnan(snapshot.options.delta[call])
