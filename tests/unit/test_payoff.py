"""The payoff of futures and options across the underlying's price (engine/market/payoff.py).

Proves that the price grid spans ±10 % in 101 ascending points with the current price in the
middle; that at expiry an option is worth its intrinsic value and a future the price, so a
long call loses at most its cost and a call bought with a put sold is a future; that the today
curve is Black-76 on the leg's forward and meets the expiry curve at the expiry instant; and
the key property, on the real simulated market: at the current spot, the today curve equals the
positions' unrealised P&L at the model's published prices within one tick per unit held (the
published prices are the model's rounded to the tick). Without the model's marks (quotes from a
feed) an option's volatility is the one that reprices its LTP, so the same holds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from engine.config import Config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import Product
from engine.domain.instruments import InstrumentMaster
from engine.domain.positions import Position
from engine.market.black76_reference import price_option
from engine.market.market_data import MarketSnapshot
from engine.market.market_layout import CALENDAR_YEAR_MS, NO_INDEX
from engine.market.option_chain import OptionChains
from engine.market.payoff import (
    Leg,
    leg_in_market,
    payoff,
    price_grid,
    value_at_expiry,
    value_today,
)
from tests.support.simulated_sessions import simulated_ticks

IST = 330
RATE = 0.065
NOW_MS = 1_796_269_500_000  # 2026-12-03 09:15 IST
EXPIRY_MS = NOW_MS + 26 * 86_400_000
SPOT = 2_600_000  # ₹26,000 in paise


def test_price_grid_when_built_then_101_ascending_points_over_ten_percent_around_the_price() -> (
    None
):
    grid = price_grid(SPOT)
    assert len(grid) == 101
    assert grid == sorted(set(grid))
    assert grid[50] == SPOT
    assert grid[0] == pytest.approx(SPOT * 0.9, abs=1)
    assert grid[-1] == pytest.approx(SPOT * 1.1, abs=1)
    assert price_grid(12_345, 0.2, 3) == [9_876, 10_699, 11_522, 12_345, 13_168, 13_991, 14_814]


CALL = Leg(
    quantity=1, cost_paise=0, expiry_ms=EXPIRY_MS, basis=1.0, strike_paise=SPOT, is_call=True
)
PUT = Leg(
    quantity=1, cost_paise=0, expiry_ms=EXPIRY_MS, basis=1.0, strike_paise=SPOT, is_call=False
)
FUTURE = Leg(quantity=1, cost_paise=0, expiry_ms=EXPIRY_MS, basis=1.004)


@pytest.mark.parametrize(
    ("leg", "price", "worth"),
    [
        (CALL, SPOT + 5_000, 5_000),
        (CALL, SPOT, 0),
        (CALL, SPOT - 5_000, 0),
        (PUT, SPOT - 5_000, 5_000),
        (PUT, SPOT + 5_000, 0),
        (FUTURE, SPOT - 5_000, SPOT - 5_000),  # a future converges to its spot
    ],
)
def test_value_at_expiry_when_priced_then_intrinsic_or_the_price(
    leg: Leg, price: int, worth: int
) -> None:
    assert value_at_expiry(leg, price) == worth


def test_long_call_when_at_expiry_then_loses_at_most_its_cost_and_gains_its_quantity_above() -> (
    None
):
    carry = math.exp(RATE * (EXPIRY_MS - NOW_MS) / CALENDAR_YEAR_MS)
    call = Leg(65, 65 * 30_000, EXPIRY_MS, carry, SPOT, True, 0.13)  # 65 bought at ₹300
    points = payoff([call], price_grid(SPOT), NOW_MS, RATE)
    assert min(p.expiry_pnl_paise for p in points) == -65 * 30_000
    above = [p for p in points if p.price_paise > SPOT]
    for low, high in itertools.pairwise(above):
        slope = (high.expiry_pnl_paise - low.expiry_pnl_paise) / (
            high.price_paise - low.price_paise
        )
        assert slope == pytest.approx(65)
    # On the spot carried to expiry a call is worth more than its intrinsic value before it.
    assert all(p.today_pnl_paise >= p.expiry_pnl_paise for p in points)


def test_call_bought_and_put_sold_when_valued_then_a_future_at_expiry_and_parity_today() -> None:
    basis = math.exp(RATE * 26 / 365)
    call = Leg(50, 50 * 40_000, EXPIRY_MS, basis, SPOT, True, 0.15)
    put = Leg(-50, -50 * 30_000, EXPIRY_MS, basis, SPOT, False, 0.15)
    cost = call.cost_paise + put.cost_paise
    discount = math.exp(-RATE * (EXPIRY_MS - NOW_MS) / CALENDAR_YEAR_MS)
    for point in payoff([call, put], price_grid(SPOT), NOW_MS, RATE):
        price = point.price_paise
        assert point.expiry_pnl_paise == 50 * (price - SPOT) - cost
        parity = 50 * discount * (price * basis - SPOT) - cost  # C − P = e^(−rT)(F − K)
        assert point.today_pnl_paise == pytest.approx(parity, abs=1)


@pytest.mark.parametrize("leg", [CALL, PUT, FUTURE], ids=["call", "put", "future"])
def test_today_when_expiry_instant_reached_then_the_expiry_value(leg: Leg) -> None:
    at_expiry = Leg(leg.quantity, leg.cost_paise, leg.expiry_ms, 1.0, leg.strike_paise, leg.is_call)
    for price in price_grid(SPOT):
        assert value_today(at_expiry, price, EXPIRY_MS, RATE) == value_at_expiry(at_expiry, price)


def test_today_when_before_expiry_then_black76_on_the_forward_the_basis_gives() -> None:
    call = Leg(1, 0, EXPIRY_MS, 1.003, SPOT, True, 0.14)
    years = (EXPIRY_MS - NOW_MS) / CALENDAR_YEAR_MS
    expected = price_option(2_550_000 * 1.003, SPOT, years, 0.14, True, RATE).price
    assert value_today(call, 2_550_000, NOW_MS, RATE) == expected
    assert value_today(FUTURE, 2_550_000, NOW_MS, RATE) == 2_550_000 * 1.004


# -- the key property, on the simulated market --------------------------------------------------

# (ticker, signed lots, price paid as a fraction of the LTP): long and short, calls, puts and the
# future, in and out of the money.
BOOK = [
    ("NFO:NIFTY26DEC26000CE", 2, 0.95),
    ("NFO:NIFTY26DEC26000PE", -1, 1.10),
    ("NFO:NIFTY26DEC25500CE", -3, 0.90),
    ("NFO:NIFTY26DEC26500PE", 1, 1.00),
    ("NFO:NIFTY26DEC25800PE", 4, 1.30),
    ("NFO:NIFTY26DECFUT", -1, 1.001),
]


def open_positions(master: InstrumentMaster, snapshot: MarketSnapshot) -> list[Position]:
    positions = []
    for n, (ticker, lots, paid) in enumerate(BOOK):
        instrument = master.get(ticker)
        index = master.index_of(ticker)
        assert instrument is not None and index is not None
        quantity = lots * instrument.lot_size
        price = (
            round(int(snapshot.ltp[index]) * paid / instrument.tick_paise) * instrument.tick_paise
        )
        positions.append(
            Position(
                f"p{n}", instrument.instrument_id, Product.NRML, quantity, quantity * price, 0, 0, 0
            )
        )
    return positions


def legs_of(
    config: Config,
    master: InstrumentMaster,
    positions: list[Position],
    snapshot: MarketSnapshot,
    spot_paise: int,
) -> list[Leg]:
    """The legs as GET /api/trading/payoff builds them."""
    legs = []
    for position in positions:
        index = master.index_of(position.instrument_id)
        assert index is not None
        instrument = master.at(index)
        expiry_ms = ExchangeCalendar.from_config(config.sessions).expiry_instant_ms(instrument)
        legs.append(
            leg_in_market(
                instrument,
                index,
                position.quantity,
                position.cost_paise,
                expiry_ms,
                snapshot,
                spot_paise,
                config.market.options.rate,
            )
        )
    return legs


def check_today_meets_unrealised(
    config: Config, master: InstrumentMaster, snapshot: MarketSnapshot
) -> None:
    nifty = OptionChains(master, ExchangeCalendar.from_config(config.sessions)).get("NIFTY")
    assert nifty is not None and nifty.spot != NO_INDEX
    spot = int(snapshot.ltp[nifty.reference(snapshot.at_ms)])
    positions = open_positions(master, snapshot)
    legs = legs_of(config, master, positions, snapshot, spot)
    grid = price_grid(spot)
    at_spot = payoff(legs, grid, snapshot.at_ms, config.market.options.rate)[len(grid) // 2]
    assert at_spot.price_paise == spot
    unrealised = 0
    tolerance = 1  # the curve's own rounding to the paisa
    for position in positions:
        index = master.index_of(position.instrument_id)
        assert index is not None
        unrealised += position.unrealized_pnl_paise(int(snapshot.ltp[index]))
        tolerance += abs(position.quantity) * master.at(index).tick_paise
    assert abs(at_spot.today_pnl_paise - unrealised) <= tolerance, (at_spot, unrealised)


def test_today_when_at_current_spot_then_positions_unrealised_pnl_within_a_tick_per_unit(
    config: Config, master: InstrumentMaster
) -> None:
    for snapshot in simulated_ticks(config, master, 16, 4 * 60 * 10, 4 * 60):  # each minute
        assert snapshot.options is not None
        check_today_meets_unrealised(config, master, snapshot)


def test_today_when_quotes_have_no_model_marks_then_volatility_reprices_the_ltp(
    config: Config, master: InstrumentMaster
) -> None:
    modelled = next(simulated_ticks(config, master, 5, 1))
    fed = MarketSnapshot(
        seq=modelled.seq,
        at_ms=modelled.at_ms,
        ltp=modelled.ltp,
        bid=modelled.bid,
        ask=modelled.ask,
        low=modelled.low,
        high=modelled.high,
        options=None,  # a feed's quotes: prices only
    )
    check_today_meets_unrealised(config, master, fed)
    index = master.index_of("NFO:NIFTY26DEC26000CE")
    assert index is not None and modelled.options is not None
    nifty_spot = master.index_of("NSE:NIFTY 50")
    assert nifty_spot is not None
    legs = legs_of(config, master, open_positions(master, fed)[:1], fed, int(fed.ltp[nifty_spot]))
    assert legs[0].volatility == pytest.approx(float(modelled.options.iv[index]), abs=0.005)
    assert not np.isnan(legs[0].volatility)
