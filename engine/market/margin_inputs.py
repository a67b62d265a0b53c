"""The market a portfolio margin is computed on (docs/DOMAIN.md §2), read from the latest
snapshot: each derivative's forward, implied volatility and time to expiry, and its
underlying's price; the underlying's volatility (for the price scan range) is the one the market
models it with.

Where the market has not priced something the figures fall back, in order: an option's forward
to its own expiry's future, then the underlying's price, then its strike; a future's to its
underlying's price, then its reference price; an implied volatility to the configured one for
the underlying's kind (``margin.portfolio.fallback_volatility_pct``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from engine.domain.instruments import Instrument
from engine.domain.portfolio import LegMarket, UnderlyingMarket, margin_kind, portfolio_of
from engine.market.market_data import MarketData
from engine.market.market_layout import CALENDAR_YEAR_MS, NO_INDEX, annual_volatility
from engine.market.option_chain import Underlying


def underlying_market(
    data: MarketData,
    instruments: Iterable[Instrument],
    now_ms: int,
    fallback_volatility: Mapping[str, float],
) -> UnderlyingMarket:
    """The market of ``instruments`` (derivatives of one underlying, at least one) now."""
    contracts = tuple(instruments)
    first = contracts[0]
    kind = margin_kind(first)
    fallback = fallback_volatility[kind.value]
    underlying = data.chains.get(first.underlying)
    price = data.underlying_price(first) or _own_price(data, first)
    if price <= 0:
        price = first.strike_paise or first.reference_price_paise
    legs = tuple(_leg(data, underlying, c, price, now_ms, fallback) for c in contracts)
    return UnderlyingMarket(
        name=portfolio_of(first),
        kind=kind,
        price_paise=price,
        volatility=_underlying_volatility(data, underlying, first),
        legs=legs,
    )


def _price(data: MarketData, index: int) -> int:
    """The last traded price, else the reference (before the first tick); 0 if neither."""
    if index == NO_INDEX:
        return 0
    return int(data.snapshot.ltp[index]) or int(data.reference[index])


def _own_price(data: MarketData, instrument: Instrument) -> int:
    index = data.master.index_of(instrument.instrument_id)
    return 0 if index is None else _price(data, index)


def _underlying_volatility(
    data: MarketData, underlying: Underlying | None, contract: Instrument
) -> float:
    """The underlying's annualised volatility as the market models it (``market.volatility``:
    its spot's, else the contract's kind's), for the price scan range: a property of the
    underlying, never read back from option premiums that may be stale."""
    if underlying is not None and underlying.spot != NO_INDEX:
        return annual_volatility(data.market_config.volatility, data.master.at(underlying.spot))
    return annual_volatility(data.market_config.volatility, contract)


def _leg(  # noqa: PLR0917 (one contract and what its figures fall back to)
    data: MarketData,
    underlying: Underlying | None,
    instrument: Instrument,
    underlying_price: int,
    now_ms: int,
    fallback_volatility: float,
) -> LegMarket:
    index = data.master.index_of(instrument.instrument_id)
    expiry_ms = data.calendar.expiry_instant_ms(instrument)
    years = max(expiry_ms - now_ms, 0) / CALENDAR_YEAR_MS
    if instrument.is_future:
        forward = float(
            (0 if index is None else _price(data, index))
            or underlying_price
            or instrument.reference_price_paise
        )
        return LegMarket(instrument, forward, 0.0, years)
    forward = volatility = math.nan
    options = data.snapshot.options
    if options is not None and index is not None and index < len(options.iv):
        forward, volatility = float(options.forward[index]), float(options.iv[index])
    if not (math.isfinite(forward) and forward > 0):
        same_expiry = NO_INDEX
        if underlying is not None and instrument.expiry is not None:
            chain = underlying.chain(instrument.expiry)
            same_expiry = NO_INDEX if chain is None else chain.future
        forward = float(_price(data, same_expiry) or underlying_price or instrument.strike_paise)
    if not (math.isfinite(volatility) and volatility > 0):
        volatility = fallback_volatility
    return LegMarket(instrument, forward, volatility, years)
