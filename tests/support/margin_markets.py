"""The underlying market a test's derivative command is stamped with, as the account actor
stamps it (``engine.market.margin_inputs``) but from fixed figures: every contract of the
underlying priced on one forward, at one implied volatility, its time to expiry from the
exchange calendar.

The contracts are the command's own and those of the account's open positions on the same
underlying, found among ``known`` instruments and the sample master.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from engine.config import DEFAULT_INSTRUMENTS_PATH
from engine.domain import commands as cmd
from engine.domain.account.state import AccountState
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.portfolio import (
    LegMarket,
    UnderlyingMarket,
    is_derivative,
    margin_kind,
    portfolio_of,
)
from engine.domain.rules import AccountRules
from engine.market.instrument_import import read_instruments_csv
from engine.market.market_layout import CALENDAR_YEAR_MS

VOLATILITY = 0.13  # NIFTY's at-the-money implied volatility, about
SAMPLE_MASTER = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))


def underlying_price(instrument: Instrument) -> int:
    """The sample master's price of a derivative's underlying: its nearest future's previous
    close (the instrument's own for a future without one), else the strike."""
    futures = sorted(
        (
            i
            for i in SAMPLE_MASTER
            if i.is_future and portfolio_of(i) == portfolio_of(instrument) and i.expiry
        ),
        key=lambda i: i.expiry or 0,
    )
    if futures:
        return futures[0].reference_price_paise
    return instrument.reference_price_paise if instrument.is_future else instrument.strike_paise


def market_of(
    rules: AccountRules,
    contracts: Iterable[Instrument],
    *,
    now_ms: int,
    price_paise: int = 0,
    volatility: float = VOLATILITY,
) -> UnderlyingMarket:
    """The market of ``contracts`` (one underlying's), all priced on ``price_paise`` (the
    sample master's underlying price when 0)."""
    legs = tuple(contracts)
    first = legs[0]
    price = price_paise or underlying_price(first)
    return UnderlyingMarket(
        name=portfolio_of(first),
        kind=margin_kind(first),
        price_paise=price,
        volatility=volatility,
        legs=tuple(
            LegMarket(
                contract,
                float(price),
                0.0 if contract.is_future else volatility,
                max(rules.calendar.expiry_instant_ms(contract) - now_ms, 0) / CALENDAR_YEAR_MS,
            )
            for contract in legs
        ),
    )


def market_for(
    rules: AccountRules,
    state: AccountState,
    instrument: Instrument,
    *,
    now_ms: int,
    price_paise: int = 0,
    known: Iterable[Instrument] = (),
) -> UnderlyingMarket | None:
    """``instrument``'s underlying market with the account's positions on it (None for an
    equity)."""
    if not is_derivative(instrument):
        return None
    lookup = {i.instrument_id: i for i in known}
    name = portfolio_of(instrument)
    contracts = {instrument.instrument_id: instrument}
    for position in state.positions.values():
        held = lookup.get(position.instrument_id) or SAMPLE_MASTER.get(position.instrument_id)
        if held is not None and is_derivative(held) and portfolio_of(held) == name:
            contracts.setdefault(held.instrument_id, held)
    return market_of(rules, contracts.values(), now_ms=now_ms, price_paise=price_paise)


_STAMPED = (
    cmd.PlaceOrder,
    cmd.ModifyOrder,
    cmd.FillOrder,
    cmd.ClosePosition,
    cmd.ExpirePosition,
    cmd.ConvertPosition,
)


def stamped(
    state: AccountState,
    command: cmd.AccountCommand,
    rules: AccountRules,
    known: Iterable[Instrument] = (),
) -> cmd.AccountCommand:
    """``command`` stamped with its derivative's market when it has none, as the actor would."""
    if not isinstance(command, _STAMPED) or command.market is not None:
        return command
    market = market_for(
        rules, state, command.instrument, now_ms=command.now_ms, known=(command.instrument, *known)
    )
    if market is None:
        return command
    return msgspec.structs.replace(command, market=market)
