"""The simulated market as the market actor publishes it, tick by tick (docs/DOMAIN.md §5).

Two hours of 250 ms ticks of the default master through the real market behaviour on a fake
clock (``tests/support/simulated_sessions.py``), sampled every 10 s and every minute:

* published prices (rounded, banded, futures carried from their spots) have each class's
  configured volatility at one-minute sampling, within ±10 %;
* futures sit at their spot carried to expiry, ``S × e^(rT)``, and meet it at expiry;
* put–call parity ``C − P = e^(−rT)(F − K)`` holds within one spread for every strike at every
  sampled tick; premiums never go below their discounted intrinsic value or one tick;
* on a flat surface, options move with their future by their delta (the regression slope of
  10-second option changes on future changes is the mean delta, within 5 %);
* bid < ask by at least a tick, far OTM strikes quote wider; the same seed gives the same ticks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest

from engine.config import Config, load_config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import InstrumentType
from engine.domain.instruments import InstrumentMaster
from engine.market.market_data import MarketSnapshot
from engine.market.market_layout import CALENDAR_YEAR_MS, MarketLayout
from tests.support.simulated_sessions import TICK_MS, simulated_ticks, simulated_ticks_from

MINUTES = 120
TICKS_PER_MINUTE = 60_000 // TICK_MS
SAMPLE_EVERY = 40  # ticks: every 10 s
MIN_TICKS = 1_000


@pytest.fixture(scope="module")
def samples(config: Config, master: InstrumentMaster) -> list[MarketSnapshot]:
    """A snapshot every 10 s over two hours."""
    return list(simulated_ticks(config, master, 21, MINUTES * TICKS_PER_MINUTE + 1, SAMPLE_EVERY))


def layout_of(config: Config, master: InstrumentMaster) -> MarketLayout:
    market = config.market
    return MarketLayout.of(
        master, market.volatility, market.factor, ExchangeCalendar.from_config(config.sessions)
    )


def years_to(config: Config, master: InstrumentMaster, index: int, at_ms: int) -> float:
    expiry = ExchangeCalendar.from_config(config.sessions).expiry_instant_ms(master.at(index))
    return max(expiry - at_ms, 0) / CALENDAR_YEAR_MS


def test_published_prices_when_sampled_each_minute_then_each_class_volatility_within_ten_percent(
    config: Config, master: InstrumentMaster, samples: list[MarketSnapshot]
) -> None:
    layout = layout_of(config, master)
    sigma = dict(zip(layout.driven.index.tolist(), layout.driven.volatility.tolist(), strict=True))
    for future, spot in zip(
        layout.futures.index.tolist(), layout.futures.spot.tolist(), strict=True
    ):
        sigma[future] = sigma[spot]  # a future moves as its spot does
    minutes = np.array([s.ltp for s in samples[:: TICKS_PER_MINUTE // SAMPLE_EVERY]], dtype=float)
    assert len(minutes) == MINUTES + 1
    classes: dict[float, list[int]] = defaultdict(list)
    for index, volatility in sigma.items():
        instrument = master.at(index)
        if instrument.reference_price_paise >= MIN_TICKS * instrument.tick_paise:
            classes[volatility].append(index)
    assert len(classes) >= 4
    minutes_per_year = config.market.volatility.trading_year_ms / 60_000
    for volatility, members in classes.items():
        returns = np.diff(np.log(minutes[:, members]), axis=0)
        realised = float(np.std(returns)) * math.sqrt(minutes_per_year)
        assert realised == pytest.approx(volatility, rel=0.10), (volatility, len(members))


def test_futures_when_priced_then_spot_carried_to_expiry_within_a_tick(
    config: Config, master: InstrumentMaster, samples: list[MarketSnapshot]
) -> None:
    layout = layout_of(config, master)
    rate = config.market.options.rate
    for snapshot in samples[::30]:
        for future, spot in zip(layout.futures.index, layout.futures.spot, strict=True):
            years = years_to(config, master, int(future), snapshot.at_ms)
            carried = snapshot.ltp[spot] * math.exp(rate * years)
            # Each is rounded to its tick on its own: a tick each way, scaled by the carry.
            assert abs(snapshot.ltp[future] - carried) <= 2.2 * master.at(int(future)).tick_paise


def test_futures_when_expiry_reached_then_equal_to_spot_within_rounding(
    config: Config, master: InstrumentMaster
) -> None:
    layout = layout_of(config, master)
    future = int(layout.futures.index[0])
    expiry = ExchangeCalendar.from_config(config.sessions).expiry_instant_ms(master.at(future))
    start = next(simulated_ticks(config, master, 4, 1))
    assert start.ltp[future] > start.ltp[layout.futures.spot[0]] * 1.001  # carry before expiry
    at_expiry = next(simulated_ticks_from(config, master, 4, expiry, 1))  # a tick at expiry
    spot = at_expiry.ltp[layout.futures.spot[0]]
    assert abs(at_expiry.ltp[future] - spot) <= 2 * master.at(future).tick_paise


def _option_pairs(master: InstrumentMaster) -> list[tuple[int, int]]:
    calls = {
        (i.underlying, i.expiry, i.strike_paise): n
        for n, i in enumerate(master)
        if i.instrument_type is InstrumentType.CE
    }
    return [
        (calls[(i.underlying, i.expiry, i.strike_paise)], n)
        for n, i in enumerate(master)
        if i.instrument_type is InstrumentType.PE
        and (i.underlying, i.expiry, i.strike_paise) in calls
    ]


def test_put_call_parity_when_every_sampled_tick_then_within_one_spread(
    config: Config, master: InstrumentMaster, samples: list[MarketSnapshot]
) -> None:
    pairs = _option_pairs(master)
    assert len(pairs) >= 14
    rate = config.market.options.rate
    checked = 0
    for snapshot in samples:
        assert snapshot.options is not None
        for call, put in pairs:
            years = years_to(config, master, call, snapshot.at_ms)
            forward = snapshot.options.forward[call]
            strike = master.at(call).strike_paise
            parity = math.exp(-rate * years) * (forward - strike)
            spread = max(
                snapshot.ask[call] - snapshot.bid[call], snapshot.ask[put] - snapshot.bid[put]
            )
            assert abs(int(snapshot.ltp[call]) - int(snapshot.ltp[put]) - parity) <= spread
            checked += 1
    assert checked == len(samples) * len(pairs)


def test_premiums_when_priced_then_never_below_discounted_intrinsic_or_a_tick(
    config: Config, master: InstrumentMaster, samples: list[MarketSnapshot]
) -> None:
    rate = config.market.options.rate
    options = [n for n, i in enumerate(master) if i.is_option]
    for snapshot in samples[::10]:
        assert snapshot.options is not None
        for n in options:
            instrument = master.at(n)
            forward = snapshot.options.forward[n]
            years = years_to(config, master, n, snapshot.at_ms)
            sign = 1 if instrument.instrument_type is InstrumentType.CE else -1
            intrinsic = math.exp(-rate * years) * max(sign * (forward - instrument.strike_paise), 0)
            assert snapshot.ltp[n] >= max(intrinsic, instrument.tick_paise)
            assert snapshot.ltp[n] % instrument.tick_paise == 0
            assert snapshot.ask[n] - snapshot.bid[n] >= instrument.tick_paise


def test_option_spreads_when_far_from_the_money_then_wider_in_proportion(
    config: Config, master: InstrumentMaster
) -> None:
    # The sample strikes are all within a standard deviation: add far ones on the same terms.
    atm = master.get("NFO:NIFTY26DEC26000CE")
    assert atm is not None
    wide = InstrumentMaster(master)
    for strike in (23_000, 24_000, 28_000, 29_000):
        for kind in (InstrumentType.CE, InstrumentType.PE):
            wide.add(
                replace(
                    atm,
                    instrument_id=f"TEST|{strike}{kind.value}",
                    symbol=f"NIFTY26DEC{strike}{kind.value}",
                    instrument_type=kind,
                    strike_paise=strike * 100,
                )
            )
    snapshot = next(simulated_ticks(config, wide, 8, 1))
    assert snapshot.options is not None
    base = config.market.spread_ppm["options"][atm.liquidity]
    widening = config.market.options.far_otm_spread_widening
    checked = 0
    for n, instrument in enumerate(wide):
        if not instrument.instrument_id.startswith("TEST|"):
            continue
        forward = snapshot.options.forward[n]
        years = years_to(config, wide, n, snapshot.at_ms)
        atm_iv = snapshot.options.iv[wide.index_of("NFO:NIFTY26DEC26000CE") or 0]
        z = abs(math.log(instrument.strike_paise / forward)) / (atm_iv * math.sqrt(years))
        expected_ppm = base * (1 + widening * (z - 1))
        ticks = math.ceil(snapshot.ltp[n] * expected_ppm / 1e6 / instrument.tick_paise)
        # quote_around's spread of the widened rate (the surface's term factor aside: ±1 tick).
        spread_ticks = (snapshot.ask[n] - snapshot.bid[n]) // instrument.tick_paise
        assert abs(spread_ticks - max(ticks, 1)) <= 1, (instrument.symbol, z)
        if ticks > 2:
            assert spread_ticks > math.ceil(snapshot.ltp[n] * base / 1e6 / instrument.tick_paise)
            checked += 1
    assert checked >= 2


def test_option_moves_when_surface_flat_then_slope_on_future_is_delta(
    master: InstrumentMaster,
) -> None:
    flat = load_config(
        market={"options": {"surface": {"vol_of_vol_pct": "0", "skew": "0", "curvature": "0"}}}
    )
    samples = list(simulated_ticks(flat, master, 5, 60 * TICKS_PER_MINUTE + 1, SAMPLE_EVERY))
    future = master.index_of("NFO:NIFTY26DECFUT")
    assert future is not None
    future_moves = np.diff([float(s.ltp[future]) for s in samples])
    checked = 0
    for n, instrument in enumerate(master):
        if not instrument.is_option or instrument.underlying != "NIFTY":
            continue
        deltas = np.array([s.options.delta[n] for s in samples if s.options is not None])
        if not 0.2 < abs(float(deltas.mean())) < 0.8:
            continue
        option_moves = np.diff([float(s.ltp[n]) for s in samples])
        slope = float(np.dot(option_moves, future_moves) / np.dot(future_moves, future_moves))
        assert slope == pytest.approx(float(deltas.mean()), rel=0.05), instrument.symbol
        checked += 1
    assert checked >= 6


def test_ticks_when_same_seed_then_same_stream_and_another_seed_another(
    config: Config, master: InstrumentMaster
) -> None:
    def stream(seed: int) -> list[list[int]]:
        return [s.ltp.tolist() for s in simulated_ticks(config, master, seed, 60)]

    assert stream(3) == stream(3)
    assert stream(3) != stream(4)
