"""Seeded minute history before the simulated market's first start (``[history] seed_days``).

Charts and historical calls have data from the first start: for each instrument the simulated
market priced at its first tick (its *seed*: that minute, that price and, for an option, the
implied volatility it was priced at), the ``seed_days`` trading days before it are generated,
together with the minutes of the seed's own date before it, in the trading minutes of the
instrument's session (``engine.domain.sessions``: NSE and BSE 09:15–15:30 IST, their
derivatives to their close, MCX 09:00 to its evening close; weekends and holidays skipped).
The history *ends* at the seed's price: each instrument's path is drawn backwards from it, so
the chart joins the live market without a jump.

**The process is the market's own** (``engine.market.simulated_prices``, docs/DOMAIN.md §5),
in trading time, one step a minute. A driven instrument (index spot, stock, a contract with
nothing to price it from) moves by ``(μ − σ²/2)·dt + σ·√dt·z`` with its own annualised σ
(``annual_volatility``) spread over the trading year, scaled by the intraday profile; a stock's
``z`` is its factor's (its index's) times the correlation plus its own, as in the live market.
Inside a minute the path is a Brownian bridge from the open to the close, whose maximum and
minimum are drawn exactly (the bridge's extremes have closed-form laws) for the high and the
low. Overnight the path does not move: the volatility is all in trading time, as configured.
A future follows its spot by cost of carry, ``F(t) = F₀·S(t)/S₀·e^{r(t₀−t)}``; an option is
priced by Black-76 on its forward (the spot carried to its expiry, or the future it is written
on) at the implied volatility of its seed, the whole series scaled so its last close is the
seed's price. Prices are rounded to the instrument's tick without bias (up with probability
equal to the fraction of a tick), the high and low widened to hold the open and close, and
nothing goes below one tick.

**Deterministic**: each instrument draws from its own generator, keyed by ``market.seed`` and
its instrument id, so its history is the same whichever order instruments are generated in,
and a stock's factor shocks are its index's own.

**Generated lazily, per instrument, on first read** (``gateway.candle_recorder``), not all at
the first start: the generated F&O universe alone is several thousand contracts, and 30 days
of 375 minutes each is over 11,000 candles an instrument, tens of millions of rows of which
most no one ever charts. Measured on the sample master with its generated contracts (2,782
instruments): generating them all takes about 30 s and 38.7 million candles; writing the seeds
at the first start takes 37 ms. One instrument's history (11,250 minutes) is generated in about
25 ms and stored in about 100 ms (one COPY), the first time a chart or a historical call asks
for it, and only once (the seed row is locked and marked while it is written).

Volume and open interest of the generated minutes are 0: the market has no volume but what
this server's accounts trade (``engine.market.candles``).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from engine.config import MarketConfig
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.parameters import SessionsConfig
from engine.domain.sessions import SessionGroup, SessionRules, group_of
from engine.market import black76
from engine.market.candles import MS_PER_MINUTE, Candle
from engine.market.market_layout import CALENDAR_YEAR_MS, NO_INDEX, MarketLayout

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Seed:
    """Where one instrument's history ends: the first minute the market priced it, that price
    (paise) and, for an option, the implied volatility it was priced at (None if unknown)."""

    instrument_id: str
    first_minute_ms: int
    price_paise: int
    iv: float | None = None


@dataclass(frozen=True, slots=True)
class Path:
    """A history before rounding: each minute's start (epoch ms) and its prices in paise."""

    minutes: Int64Array
    open: Float64Array
    high: Float64Array
    low: Float64Array
    close: Float64Array


class HistoryModel:
    """Generates one instrument's seeded history from the market's configuration."""

    def __init__(
        self,
        market: MarketConfig,
        sessions: SessionsConfig,
        master: InstrumentMaster,
        seed_days: int,
    ) -> None:
        self.market = market
        self.master = master
        self.seed_days = seed_days
        self.calendar = ExchangeCalendar.from_config(sessions)
        # The hours of each session whether or not the server enforces them: history is only
        # ever of trading minutes.
        rules = SessionRules.from_config(replace(sessions, enforce_hours=True))
        assert rules is not None
        self.rules = rules
        self._layout: MarketLayout | None = None
        self._layout_size = 0

    # -- roles ------------------------------------------------------------------------------

    @property
    def layout(self) -> MarketLayout:
        """The market's roles of the master's instruments (rebuilt when it grew)."""
        if self._layout is None or self._layout_size != len(self.master):
            market = self.market
            self._layout = MarketLayout.of(
                self.master, market.volatility, market.factor, self.calendar
            )
            self._layout_size = len(self.master)
        return self._layout

    def dependencies(self, instrument: Instrument) -> list[str]:
        """The instruments whose seeds ``instrument``'s history is drawn from besides its own:
        its factors (a stock's index), or a derivative's spot or future."""
        index = self.master.index_of(instrument.instrument_id)
        if index is None:
            return []
        layout = self.layout
        found: list[str] = []
        for column in (layout.futures, layout.options):
            where = np.flatnonzero(column.index == index)
            if len(where):
                position = int(where[0])
                underlying = int(column.spot[position])
                if underlying == NO_INDEX and column is layout.options:
                    underlying = int(layout.options.future[position])
                found.append(self.master.at(underlying).instrument_id)
                found.extend(self.dependencies(self.master.at(underlying)))
                return found
        driven = layout.driven
        where = np.flatnonzero(driven.index == index)
        position = int(where[0]) if len(where) else NO_INDEX
        while position != NO_INDEX and driven.factor[position] != NO_INDEX:
            position = int(driven.factor[position])
            found.append(self.master.at(int(driven.index[position])).instrument_id)
        return found

    # -- the calendar -----------------------------------------------------------------------

    def minutes(self, group: SessionGroup, end_ms: int) -> Int64Array:
        """The trading minutes (their starts) of ``group`` before ``end_ms``: those of its date
        and of the ``seed_days`` trading days before, oldest first."""
        day = self.calendar.local_date(end_ms)
        blocks: list[Int64Array] = []
        days = -1  # the end's own date is not one of the seed_days
        while days < self.seed_days:
            hours = self.rules.hours(group, day)
            if hours is not None:
                start = self.calendar.instant_ms(day, hours[0])
                block = start + MS_PER_MINUTE * np.arange(hours[1] - hours[0], dtype=np.int64)
                blocks.append(block[block < end_ms])
            if hours is not None or days < 0:
                days += 1
            day -= timedelta(days=1)
        return np.concatenate(blocks[::-1]) if blocks else np.zeros(0, dtype=np.int64)

    # -- generation -------------------------------------------------------------------------

    def generate(self, instrument: Instrument, seeds: Mapping[str, Seed]) -> list[Candle]:
        """``instrument``'s history, ending at its seed, oldest first; ``seeds`` must hold its
        own and its :meth:`dependencies`' (empty without them)."""
        path = self.path(instrument, seeds)
        seed = seeds.get(instrument.instrument_id)
        if path is None or seed is None or not len(path.minutes):
            return []
        return candles_of(path, instrument.tick_paise, seed.price_paise, _rng(self, instrument, 1))

    def path(self, instrument: Instrument, seeds: Mapping[str, Seed]) -> Path | None:
        """The unrounded history of ``instrument`` (None without the seeds it needs)."""
        seed = seeds.get(instrument.instrument_id)
        index = self.master.index_of(instrument.instrument_id)
        if seed is None or index is None:
            return None
        layout = self.layout
        futures = np.flatnonzero(layout.futures.index == index)
        if len(futures):
            spot = self.master.at(int(layout.futures.spot[futures[0]]))
            return self._future(instrument, seed, spot, seeds)
        options = np.flatnonzero(layout.options.index == index)
        if len(options):
            return self._option(instrument, seed, int(options[0]), seeds)
        minutes = self.minutes(group_of(instrument), seed.first_minute_ms)
        return self._driven(instrument, seed, minutes)

    def shocks(self, instrument: Instrument, count: int) -> Float64Array:
        """The standardised shocks of ``instrument``'s last ``count`` minutes (the latest
        last), its factor's shared as in the live market's one-factor model."""
        own = _rng(self, instrument, 0).standard_normal(count)[::-1].copy()
        index = self.master.index_of(instrument.instrument_id)
        driven = self.layout.driven
        where = np.flatnonzero(driven.index == index)
        if not len(where) or driven.factor[where[0]] == NO_INDEX:
            return own
        position = int(where[0])
        factor = self.master.at(int(driven.index[driven.factor[position]]))
        rho = float(driven.correlation[position])
        shocks: Float64Array = rho * self.shocks(factor, count) + math.sqrt(1 - rho**2) * own
        return shocks

    def _sigma_per_minute(self, instrument: Instrument, minutes: Int64Array) -> Float64Array:
        """σ of each minute's log move: the instrument's annualised volatility spread over the
        trading year, times the intraday profile at that IST minute."""
        volatility = self.market.volatility
        index = self.master.index_of(instrument.instrument_id)
        driven = self.layout.driven
        where = np.flatnonzero(driven.index == index)
        annual = float(driven.volatility[where[0]]) if len(where) else 0.0
        base = annual * math.sqrt(MS_PER_MINUTE / volatility.trading_year_ms)
        if not volatility.intraday:
            return np.full(len(minutes), base)
        offset = self.calendar.offset_minutes
        local = (minutes // MS_PER_MINUTE + offset) % 1440
        profile = {int(m): volatility.intraday_multiplier(int(m)) for m in np.unique(local)}
        return base * np.array([profile[int(m)] for m in local])

    def _driven(self, instrument: Instrument, seed: Seed, minutes: Int64Array) -> Path:
        count = len(minutes)
        sigma = self._sigma_per_minute(instrument, minutes)
        dt_years = MS_PER_MINUTE / self.market.volatility.trading_year_ms
        drift = self.market.volatility.drift * dt_years - sigma**2 / 2
        moves = drift + sigma * self.shocks(instrument, count)
        log_close = math.log(seed.price_paise) - (np.cumsum(moves[::-1])[::-1] - moves)
        log_open = log_close - moves
        rng = _rng(self, instrument, 2)
        variance = sigma**2
        gap = (log_close - log_open) ** 2
        mid = log_open + log_close
        # The extremes of a Brownian bridge from a to b with variance v: P(max > m) =
        # exp(−2(m − a)(m − b)/v), so max = (a + b + √((b − a)² − 2v·ln U)) / 2.
        log_high = (mid + np.sqrt(gap - 2 * variance * np.log1p(-rng.random(count)))) / 2
        log_low = (mid - np.sqrt(gap - 2 * variance * np.log1p(-rng.random(count)))) / 2
        return Path(minutes, np.exp(log_open), np.exp(log_high), np.exp(log_low), np.exp(log_close))

    def _underlying_on(self, minutes: Int64Array, underlying: Path) -> Path:
        """The underlying's path on a derivative's minutes: its own minute where it has one,
        else standing at its last close before (the cash market closed, the derivative open)."""
        at = np.searchsorted(underlying.minutes, minutes, side="right") - 1
        own = (at >= 0) & (underlying.minutes[np.maximum(at, 0)] == minutes)
        safe = np.maximum(at, 0)
        still = np.where(at >= 0, underlying.close[safe], underlying.open[0])

        def pick(column: Float64Array) -> Float64Array:
            picked: Float64Array = np.where(own, column[safe], still)
            return picked

        return Path(
            minutes,
            pick(underlying.open),
            pick(underlying.high),
            pick(underlying.low),
            pick(underlying.close),
        )

    def _future(
        self, instrument: Instrument, seed: Seed, spot: Instrument, seeds: Mapping[str, Seed]
    ) -> Path | None:
        spot_path = self.path(spot, seeds)
        spot_seed = seeds.get(spot.instrument_id)
        if spot_path is None or spot_seed is None or not len(spot_path.minutes):
            return None
        minutes = self.minutes(group_of(instrument), seed.first_minute_ms)
        on = self._underlying_on(minutes, spot_path)
        rate = self.market.options.rate
        carry = np.exp(rate * (seed.first_minute_ms - minutes) / CALENDAR_YEAR_MS)
        scale = seed.price_paise / spot_seed.price_paise * carry
        return Path(minutes, on.open * scale, on.high * scale, on.low * scale, on.close * scale)

    def _option(
        self, instrument: Instrument, seed: Seed, position: int, seeds: Mapping[str, Seed]
    ) -> Path | None:
        options = self.layout.options
        spot, future = int(options.spot[position]), int(options.future[position])
        underlying = self.master.at(spot if spot != NO_INDEX else future)
        under_path = self.path(underlying, seeds)
        if under_path is None or not len(under_path.minutes):
            return None
        minutes = self.minutes(group_of(instrument), seed.first_minute_ms)
        on = self._underlying_on(minutes, under_path)
        expiry_ms = int(options.expiry_ms[position])
        rate = self.market.options.rate
        years = np.maximum(expiry_ms - minutes - MS_PER_MINUTE, 0) / CALENDAR_YEAR_MS
        carry = np.exp(rate * years) if spot != NO_INDEX else np.ones(len(minutes))
        volatility = seed.iv if seed.iv is not None and seed.iv > 0 else self._atm(instrument)
        is_call = bool(options.is_call[position])

        def price(forward: Float64Array) -> Float64Array:
            return _black76(forward * carry, float(options.strike[position]), years,
                            volatility, is_call, rate)  # fmt: skip

        close = price(on.close)
        end = close[-1] if len(close) else 0.0
        scale = seed.price_paise / end if end > 0 else 1.0
        open_ = price(on.open) * scale
        close = close * scale
        # A call rises with its forward, a put falls: the forward's extremes give the option's.
        up, down = price(on.high) * scale, price(on.low) * scale
        high, low = (up, down) if is_call else (down, up)
        return Path(minutes, open_, high, low, close)

    def _atm(self, instrument: Instrument) -> float:
        """The surface's ATM level of an option's underlying (when its seed has no IV)."""
        surface = self.market.options.surface
        own = surface.underlyings.get(instrument.underlying)
        if own is not None:
            return own
        kind = instrument.underlying_kind.value
        return float(surface.atm.get(kind, next(iter(surface.atm.values()))))


def _rng(model: HistoryModel, instrument: Instrument, stream: int) -> np.random.Generator:
    """The generator of one instrument's ``stream`` (shocks, extremes, rounding): keyed by the
    market's seed and the instrument id, never by the order instruments are generated in."""
    key = zlib.crc32(instrument.instrument_id.encode())
    return np.random.default_rng([model.market.seed, key, stream])


def _black76(  # noqa: PLR0917 (price_chain's order, one option's series)
    forward: Float64Array,
    strike: float,
    years: Float64Array,
    volatility: float,
    is_call: bool,
    rate: float,
) -> Float64Array:
    n = len(forward)
    out = np.zeros(n)
    greeks = [np.zeros(n) for _ in range(4)]
    black76.price_chain(
        forward.astype(np.float64),
        np.full(n, strike),
        years.astype(np.float64),
        np.full(n, volatility),
        np.full(n, is_call),
        rate,
        out,
        *greeks,
    )
    return out


def round_to_tick(prices: Float64Array, tick: int, uniforms: Float64Array) -> Int64Array:
    """Each price on the tick grid, up with probability equal to its fraction of a tick (the
    expected result is the price itself: rounding adds no drift), never below one tick."""
    rounded = np.floor(prices / tick + uniforms).astype(np.int64) * tick
    floored: Int64Array = np.maximum(rounded, tick)
    return floored


def candles_of(path: Path, tick: int, last_close: int, rng: np.random.Generator) -> list[Candle]:
    """``path`` as candles on the tick grid: each minute opens at the close before it, the
    last closes at ``last_close``, and each high and low holds its open and close."""
    count = len(path.minutes)
    close = round_to_tick(path.close, tick, rng.random(count))
    close[-1] = last_close
    open_ = np.empty(count, dtype=np.int64)
    open_[0] = round_to_tick(path.open[:1], tick, rng.random(1))[0]
    open_[1:] = close[:-1]
    high = np.maximum(round_to_tick(path.high, tick, rng.random(count)), np.maximum(open_, close))
    low = np.minimum(round_to_tick(path.low, tick, rng.random(count)), np.minimum(open_, close))
    return [
        Candle(int(m), int(o), int(h), int(lo), int(c))
        for m, o, h, lo, c in zip(path.minutes, open_, high, low, close, strict=True)
    ]
