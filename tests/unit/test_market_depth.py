"""The displayed book (``engine.market.depth``): its shape around the quote, the walk an order
takes through it to the paisa, liquidity shared between orders and coming back with its
half-life, the feed's own depth in live mode, and the seeded draw behind it all."""

from __future__ import annotations

import dataclasses
import math
import statistics

import numpy as np
import pytest

from engine.config import Config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.quote import DepthLevel
from engine.market.depth import ASKS, BIDS, MarketDepth, Trade, seeded_unit
from engine.market.market_data import MarketData, MarketSnapshot

AT_MS = 1_795_496_400_000
SEED = 42


def depth_at(
    config: Config, master: InstrumentMaster, quotes: dict[int, tuple[int, int]], at_ms: int
) -> MarketDepth:
    """A depth over a market whose instruments at ``quotes`` have those (bid, ask) at
    ``at_ms`` (the LTP their midpoint) and the rest no price."""
    data = MarketData(
        master, config.market, config.circuits, 20, ExchangeCalendar.from_config(config.sessions)
    )
    depth = MarketDepth(data, config.market.depth, SEED)
    quote(depth, quotes, at_ms)
    return depth


def quote(depth: MarketDepth, quotes: dict[int, tuple[int, int]], at_ms: int) -> None:
    """Publish a new snapshot with ``quotes`` at ``at_ms``."""
    data = depth.data
    n = len(data.master)
    bid, ask = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for index, (b, a) in quotes.items():
        bid[index], ask[index] = b, a
    data.snapshot = MarketSnapshot(
        seq=data.snapshot.seq + 1,
        at_ms=at_ms,
        ltp=(bid + ask) // 2,
        bid=bid,
        ask=ask,
        low=data.circuit_low,
        high=data.circuit_high,
    )


def index_of(master: InstrumentMaster, instrument: Instrument) -> int:
    index = master.index_of(instrument.instrument_id)
    assert index is not None
    return index


@pytest.fixture
def nifty(config: Config, master: InstrumentMaster, nifty_fut: Instrument) -> MarketDepth:
    """The NIFTY future quoted 26,138.00 / 26,143.20 (a 52-tick spread: levels 26 ticks apart)."""
    index = index_of(master, nifty_fut)
    return depth_at(config, master, {index: (26_138_00, 26_143_20)}, AT_MS)


def test_book_when_quoted_then_five_levels_a_side_stepping_away_in_whole_lots(
    nifty: MarketDepth, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    bids, asks = nifty.book(index_of(master, nifty_fut))
    assert [level.price_paise for level in bids] == [26_138_00 - k * 2_60 for k in range(5)]
    assert [level.price_paise for level in asks] == [26_143_20 + k * 2_60 for k in range(5)]
    for level in (*bids, *asks):
        assert level.quantity > 0
        assert level.quantity % nifty_fut.lot_size == 0
        assert level.orders >= 1


def test_book_when_unpriced_then_empty(
    nifty: MarketDepth, master: InstrumentMaster, reliance: Instrument
) -> None:
    assert nifty.book(index_of(master, reliance)) == ([], [])


def test_book_when_levels_would_cross_the_circuit_band_then_stops_at_it(
    config: Config, master: InstrumentMaster, reliance: Instrument
) -> None:
    index = index_of(master, reliance)
    depth = depth_at(config, master, {index: (1_542_80, 1_543_00)}, AT_MS)
    high = int(depth.data.circuit_high[index])
    quote(depth, {index: (high - 20, high - 10)}, AT_MS)
    asks = depth.side(index, ASKS)
    assert [level.price_paise for level in asks] == [high - 10, high]


def test_take_when_larger_than_the_touch_then_walks_levels_to_the_paisa(
    nifty: MarketDepth, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    index = index_of(master, nifty_fut)
    asks = nifty.side(index, ASKS)
    wanted = asks[0].quantity + asks[1].quantity + nifty_fut.lot_size
    trades = nifty.take(index, 1, wanted, limit_paise=26_200_00)
    assert trades == [
        Trade(asks[0].price_paise, asks[0].quantity),
        Trade(asks[1].price_paise, asks[1].quantity),
        Trade(asks[2].price_paise, nifty_fut.lot_size),
    ]
    left = nifty.side(index, ASKS)
    assert [level.quantity for level in left[:3]] == [
        0,
        0,
        asks[2].quantity - nifty_fut.lot_size,
    ]
    assert left[3:] == asks[3:]


def test_take_when_limit_inside_the_book_then_stops_at_it(
    nifty: MarketDepth, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    index = index_of(master, nifty_fut)
    bids = nifty.side(index, BIDS)
    everything = sum(level.quantity for level in bids)
    trades = nifty.take(index, -1, everything, limit_paise=bids[1].price_paise)
    assert trades == [
        Trade(bids[0].price_paise, bids[0].quantity),
        Trade(bids[1].price_paise, bids[1].quantity),
    ]
    assert nifty.take(index, -1, everything, limit_paise=bids[1].price_paise) == []
    assert nifty.take(index, 1, everything, limit_paise=26_143_10) == []  # below the ask


def test_take_when_two_orders_compete_then_together_get_what_was_shown(
    nifty: MarketDepth, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    index = index_of(master, nifty_fut)
    touch = nifty.side(index, ASKS)[0]
    first = nifty.take(index, 1, touch.quantity, limit_paise=touch.price_paise)
    second = nifty.take(index, 1, touch.quantity, limit_paise=touch.price_paise)
    assert first == [Trade(touch.price_paise, touch.quantity)]
    assert second == []


def test_taken_liquidity_when_time_passes_then_half_back_each_half_life(
    config: Config, nifty: MarketDepth, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    index = index_of(master, nifty_fut)
    lot = nifty_fut.lot_size
    redraw = config.market.depth.redraw_ms
    half_life = config.market.depth.replenish_half_life_ms
    quotes = {index: (26_138_00, 26_143_20)}
    start = AT_MS - AT_MS % redraw  # stay in one draw (half_life is a whole number of them)
    quote(nifty, quotes, start)
    touch = nifty.side(index, ASKS)[0]
    nifty.take(index, 1, touch.quantity, limit_paise=touch.price_paise)
    quote(nifty, quotes, start + half_life)
    shown = {level.price_paise: level for level in nifty.side(index, ASKS)}
    fresh = depth_at(config, master, quotes, start + half_life).side(index, ASKS)[0]
    back = fresh.quantity - math.ceil(touch.quantity / lot / 2) * lot  # half, to the nearest lot up
    assert shown[touch.price_paise].quantity == max(back, 0)
    quote(nifty, quotes, start + 40 * half_life)
    again = depth_at(config, master, quotes, start + 40 * half_life).side(index, ASKS)
    assert nifty.side(index, ASKS) == again


def test_book_when_same_seed_and_time_then_same_and_redrawn_later(
    config: Config, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    index = index_of(master, nifty_fut)
    quotes = {index: (26_138_00, 26_143_20)}
    one = depth_at(config, master, quotes, AT_MS).book(index)
    two = depth_at(config, master, quotes, AT_MS).book(index)
    later = depth_at(config, master, quotes, AT_MS + config.market.depth.redraw_ms).book(index)
    assert one == two
    assert one != later


def test_touch_quantity_over_many_draws_when_averaged_then_the_tiers_configured_lots(
    config: Config, master: InstrumentMaster, nifty_fut: Instrument, reliance: Instrument
) -> None:
    redraw = config.market.depth.redraw_ms
    touch_lots = config.market.depth.touch_lots
    for instrument, kind, quotes in (
        (nifty_fut, "futures", (26_138_00, 26_143_20)),
        (reliance, "equity", (1_542_80, 1_543_10)),
    ):
        index = index_of(master, instrument)
        depth = depth_at(config, master, {index: quotes}, AT_MS)
        touches = []
        for draw in range(2_000):
            quote(depth, {index: quotes}, AT_MS + draw * redraw)
            touches.append(depth.side(index, BIDS)[0].quantity / instrument.lot_size)
        expected = touch_lots[kind][instrument.liquidity]
        assert statistics.fmean(touches) == pytest.approx(expected, rel=0.05)


def test_live_depth_when_the_feed_sent_one_then_shown_and_taken_from(
    nifty: MarketDepth, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    index = index_of(master, nifty_fut)
    lot = nifty_fut.lot_size
    bids = (DepthLevel(26_137_00, 10 * lot, 4), DepthLevel(26_136_50, 3 * lot, 1))
    asks = (DepthLevel(26_139_00, 2 * lot, 2),)
    nifty.data.live_depth[index] = (bids, asks)
    assert nifty.book(index) == (list(bids), list(asks))
    trades = nifty.take(index, 1, 5 * lot, limit_paise=26_200_00)
    assert trades == [Trade(26_139_00, 2 * lot)]
    assert nifty.side(index, ASKS) == [DepthLevel(26_139_00, 0, 0)]


def test_live_depth_when_a_level_holds_part_of_a_lot_then_only_whole_lots_taken(
    nifty: MarketDepth, master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    index = index_of(master, nifty_fut)
    lot = nifty_fut.lot_size
    asks = (DepthLevel(26_139_00, lot + 10, 2), DepthLevel(26_139_50, 20, 1))
    nifty.data.live_depth[index] = ((), asks)
    trades = nifty.take(index, 1, 3 * lot, limit_paise=26_200_00)
    assert trades == [Trade(26_139_00, lot)], "a fill of part of a lot is no valid fill"


def test_seeded_unit_when_drawn_many_times_then_uniform_on_zero_one(
    config: Config,
) -> None:
    draws = [seeded_unit(SEED, 7, 1, level, epoch) for level in range(5) for epoch in range(4_000)]
    assert min(draws) >= 0 and max(draws) < 1
    assert statistics.fmean(draws) == pytest.approx(0.5, abs=0.01)
    assert statistics.pvariance(draws) == pytest.approx(1 / 12, rel=0.03)
    assert seeded_unit(SEED, 7, 1, 0, 0) == seeded_unit(SEED, 7, 1, 0, 0)
    assert seeded_unit(SEED, 7, 1, 0, 0) != seeded_unit(SEED + 1, 7, 1, 0, 0)
    assert dataclasses.is_dataclass(config.market.depth)
