"""JSON views of option analytics (docs/API.md "Market data" and "Trading"): an option's implied
volatility and greeks, the prices of a contract's underlying, an option chain and a payoff, in
rupees and the units the API documents.

The model keeps greeks per paise (``engine.market.market_data.OptionMarks``); a client reads
them per rupee: implied volatility in percent, delta as is, gamma per rupee of the forward,
theta in rupees per calendar day, vega in rupees per volatility point.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import InstrumentMaster
from engine.domain.money import PAISE_PER_RUPEE, paise_to_rupees
from engine.market.market_data import MarketSnapshot
from engine.market.market_layout import NO_INDEX
from engine.market.option_chain import ExpiryChain, Underlying
from engine.market.payoff import Leg, PayoffPoint
from gateway.views import iso_ms

GREEKS = ("iv", "delta", "gamma", "theta", "vega")
NO_GREEKS: dict[str, float | None] = dict.fromkeys(GREEKS)


def _significant(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


def greeks_view(snapshot: MarketSnapshot, index: int) -> dict[str, float | None]:
    """An option's implied volatility and greeks at this snapshot (all null where the model
    priced nothing: quotes from a feed, or no tick yet)."""
    marks = snapshot.options
    if marks is None or math.isnan(marks.iv[index]):
        return dict(NO_GREEKS)
    return {
        "iv": round(float(marks.iv[index]) * 100, 2),
        "delta": round(float(marks.delta[index]), 4),
        # per paise of the forward → per rupee: the price in rupees, the forward in rupees
        "gamma": _significant(float(marks.gamma[index]) * PAISE_PER_RUPEE, 4),
        "theta": round(float(marks.theta_day[index]) / PAISE_PER_RUPEE, 2),
        "vega": round(float(marks.vega_point[index]) / PAISE_PER_RUPEE, 2),
    }


def ltp_or_none(snapshot: MarketSnapshot, index: int) -> float | None:
    """The LTP of an instrument in rupees, or None when it is not listed or has no price."""
    if index == NO_INDEX:
        return None
    ltp = int(snapshot.ltp[index])
    return paise_to_rupees(ltp) if ltp > 0 else None


def underlying_prices(underlying: Underlying, snapshot: MarketSnapshot) -> dict[str, Any]:
    """``{spot, future}``: the LTPs of the underlying's spot and its nearest live future."""
    return {
        "spot": ltp_or_none(snapshot, underlying.spot),
        "future": ltp_or_none(snapshot, underlying.nearest_future(snapshot.at_ms)),
    }


def _side(snapshot: MarketSnapshot, master: InstrumentMaster, index: int) -> dict[str, Any] | None:
    if index == NO_INDEX:
        return None
    ltp = int(snapshot.ltp[index])
    priced = ltp > 0
    return {
        "instrumentId": master.at(index).instrument_id,
        "symbol": master.at(index).symbol,
        "ltp": paise_to_rupees(ltp) if priced else None,
        "bid": paise_to_rupees(int(snapshot.bid[index])) if priced else None,
        "ask": paise_to_rupees(int(snapshot.ask[index])) if priced else None,
        **greeks_view(snapshot, index),
    }


def chain_forward_paise(chain: ExpiryChain, snapshot: MarketSnapshot) -> float:
    """The forward the chain's options were priced on (NaN when the model priced none)."""
    marks = snapshot.options
    if marks is None:
        return math.nan
    for index in chain.indices():
        forward = float(marks.forward[index])
        if not math.isnan(forward):
            return forward
    return math.nan


def chain_view(
    underlying: Underlying, chain: ExpiryChain, snapshot: MarketSnapshot, master: InstrumentMaster
) -> dict[str, Any]:
    """The option chain of one expiry (docs/API.md "Market data")."""
    forward = chain_forward_paise(chain, snapshot)
    listed = ltp_or_none(snapshot, chain.future)
    spot = ltp_or_none(snapshot, underlying.spot)
    if listed is not None:
        future, source = listed, "listed"
    elif not math.isnan(forward):
        future, source = round(forward) / PAISE_PER_RUPEE, "forward"
    else:
        future, source = None, None
    # The money is where the options' forward is; without the model's, the best price known.
    centre = forward if not math.isnan(forward) else _paise(listed if listed is not None else spot)
    return {
        "underlying": underlying.name,
        "expiry": chain.expiry.isoformat(),
        "expiries": [expiry.isoformat() for expiry in underlying.expiries],
        "spot": spot,
        "future": future,
        "futureSource": source,
        "atmStrike": None if centre is None else paise_to_rupees(chain.nearest_strike(centre)),
        "timestamp": iso_ms(snapshot.at_ms),
        "strikes": [
            {
                "strike": paise_to_rupees(row.strike_paise),
                "call": _side(snapshot, master, row.call),
                "put": _side(snapshot, master, row.put),
            }
            for row in chain.rows
        ],
    }


def _paise(rupees: float | None) -> float | None:
    return None if rupees is None else rupees * PAISE_PER_RUPEE


def underlying_item(
    underlying: Underlying, master: InstrumentMaster, now_ms: int
) -> dict[str, Any]:
    """One underlying for ``GET /api/underlyings``: its expiries not yet passed at ``now_ms``."""
    spot = underlying.spot
    futures = {f.expiry.isoformat() for f in underlying.futures if f.expiry_ms > now_ms}
    return {
        "underlying": underlying.name,
        "spotInstrumentId": None if spot == NO_INDEX else master.at(spot).instrument_id,
        "futureExpiries": sorted(futures),
        "optionExpiries": [c.expiry.isoformat() for c in underlying.chains if c.expiry_ms > now_ms],
    }


def expiry_items(
    underlying: Underlying, master: InstrumentMaster, calendar: ExchangeCalendar, now_ms: int
) -> list[dict[str, Any]]:
    """``GET /api/expiries``: the underlying's expiries after ``now_ms``, nearest first, each
    weekly or monthly by the exchange's calendar."""
    found: dict[date, dict[str, Any]] = {}
    contracts = [(f.expiry, f.expiry_ms, f.index, "futures") for f in underlying.futures] + [
        (chain.expiry, chain.expiry_ms, next(chain.indices()), "options")
        for chain in underlying.chains
    ]
    for expiry, expiry_ms, index, kind in contracts:
        if expiry_ms <= now_ms:
            continue
        item = found.setdefault(
            expiry,
            {
                "date": expiry.isoformat(),
                "expiresAt": iso_ms(expiry_ms),
                "kind": "MONTHLY"
                if calendar.is_monthly(master.at(index).exchange, expiry)
                else "WEEKLY",
                "futures": False,
                "options": False,
            },
        )
        item[kind] = True
    return [found[day] for day in sorted(found)]


def payoff_view(  # noqa: PLR0917 (the answer's parts, each computed by the route)
    underlying: Underlying,
    price_paise: int,
    nearest_expiry: date | None,
    points: list[PayoffPoint],
    positions: list[dict[str, Any]],
    snapshot: MarketSnapshot,
) -> dict[str, Any]:
    """The payoff answer (docs/API.md "Trading")."""
    return {
        "underlying": underlying.name,
        "spot": paise_to_rupees(price_paise) if price_paise > 0 else None,
        "nearestExpiry": None if nearest_expiry is None else nearest_expiry.isoformat(),
        "timestamp": iso_ms(snapshot.at_ms),
        "points": [
            {
                "price": paise_to_rupees(point.price_paise),
                "expiry": paise_to_rupees(point.expiry_pnl_paise),
                "today": paise_to_rupees(point.today_pnl_paise),
            }
            for point in points
        ],
        "positions": positions,
    }


def payoff_position_view(  # noqa: PLR0917
    position_id: str,
    index: int,
    leg: Leg,
    expiry: date,
    snapshot: MarketSnapshot,
    master: InstrumentMaster,
) -> dict[str, Any]:
    """One open position of a payoff, marked at the snapshot."""
    instrument = master.at(index)
    ltp = int(snapshot.ltp[index])
    option = leg.is_call is not None
    return {
        "id": position_id,
        "instrumentId": instrument.instrument_id,
        "symbol": instrument.symbol,
        "instrumentType": instrument.instrument_type.value,
        "strike": paise_to_rupees(leg.strike_paise) if option else None,
        "expiry": expiry.isoformat(),
        "quantity": leg.quantity,
        "averagePrice": paise_to_rupees(abs(leg.cost_paise) // abs(leg.quantity)),
        "ltp": paise_to_rupees(ltp) if ltp > 0 else None,
        "unrealizedPnl": paise_to_rupees(leg.quantity * ltp - leg.cost_paise) if ltp > 0 else 0.0,
        "iv": round(leg.volatility * 100, 2) if option else None,
    }
